import net from "net";

/**
 * One browser's own road to GoChat: a TCP relay on a free loopback port. cut() drops the
 * connections under way and resets new ones, the way a lost network looks to the page; restore()
 * lets them through again. Chromium's offline emulation is not used for this: in a sandbox with
 * only a loopback interface it leaves an open websocket to 127.0.0.1 alone.
 */
export class NetworkLink {
	private readonly server: net.Server;
	private readonly open = new Set<net.Socket>();
	private isCut = false;

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
		this.isCut = true;
		for (const socket of this.open) socket.destroy();
	}

	restore(): void {
		this.isCut = false;
	}

	async close(): Promise<void> {
		this.cut();
		await new Promise<void>(resolve => this.server.close(() => resolve()));
	}

	private relay(client: net.Socket): void {
		if (this.isCut) {
			client.resetAndDestroy();
			return;
		}
		const upstream = net.connect(this.targetPort, "127.0.0.1");
		for (const [socket, other] of [
			[client, upstream],
			[upstream, client]
		]) {
			this.open.add(socket);
			socket.on("error", () => other.destroy());
			socket.on("close", () => {
				this.open.delete(socket);
				other.destroy();
			});
		}
		client.pipe(upstream);
		upstream.pipe(client);
	}
}
