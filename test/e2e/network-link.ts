import net from "net";

/** The request line and headers of a websocket handshake (Socket.IO's transport). */
const WEBSOCKET_UPGRADE = /\r\nupgrade:\s*websocket\r\n/i;

/**
 * One browser's own road to GoChat: a TCP relay on a free loopback port.
 * - cut() drops the connections under way and resets new ones, the way a lost network looks to
 *   the page; restore() lets them through again.
 * - cutRealtime() does the same to websockets alone, as a proxy that refuses upgrades would: the
 *   page still loads and REST answers, but the socket stays down.
 * Chromium's offline emulation is not used: in a sandbox with only a loopback interface it leaves
 * an open websocket to 127.0.0.1 alone.
 */
export class NetworkLink {
	private readonly server: net.Server;
	/** Each live connection from the browser, with its upstream, and whether it became a websocket. */
	private readonly open = new Map<net.Socket, { upstream: net.Socket; websocket: boolean }>();
	private refused: "nothing" | "everything" | "websockets" = "nothing";

	private constructor(private readonly targetPort: number) {
		this.server = net.createServer(client => this.relay(client));
	}

	static async to(targetPort: number): Promise<NetworkLink> {
		const link = new NetworkLink(targetPort);
		await new Promise<void>((resolve, reject) => {
			link.server.once("error", reject);
			link.server.listen(0, "127.0.0.1", resolve);
		});
		return link;
	}

	get url(): string {
		return `http://127.0.0.1:${(this.server.address() as net.AddressInfo).port}`;
	}

	cut(): void {
		this.refused = "everything";
		for (const client of this.open.keys()) client.destroy();
	}

	cutRealtime(): void {
		this.refused = "websockets";
		for (const [client, { websocket }] of this.open) if (websocket) client.destroy();
	}

	restore(): void {
		this.refused = "nothing";
	}

	async close(): Promise<void> {
		this.cut();
		await new Promise<void>(resolve => this.server.close(() => resolve()));
	}

	private relay(client: net.Socket): void {
		if (this.refused === "everything") {
			client.resetAndDestroy();
			return;
		}
		const upstream = net.connect(this.targetPort, "127.0.0.1");
		const entry = { upstream, websocket: false };
		this.open.set(client, entry);
		// An error on either side drops both; an orderly end is passed on (pipe ends the browser's
		// side once what the server sent is written), so no answer is cut short.
		const drop = () => {
			client.destroy();
			upstream.destroy();
		};
		client.on("error", drop).on("close", () => {
			this.open.delete(client);
			upstream.destroy();
		});
		upstream.on("error", drop);
		client.on("data", (chunk: Buffer) => {
			// Chromium opens a fresh connection for each websocket, so its handshake is the first chunk.
			if (!entry.websocket && WEBSOCKET_UPGRADE.test(chunk.toString("latin1"))) entry.websocket = true;
			if (entry.websocket && this.refused === "websockets") return void client.resetAndDestroy();
			if (!upstream.write(chunk)) client.pause();
		});
		upstream.on("drain", () => client.resume());
		client.on("end", () => upstream.end());
		upstream.pipe(client);
	}
}
