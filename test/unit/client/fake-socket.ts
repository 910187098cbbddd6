/** Just enough of a socket.io-client Socket for the SDK's handlers: each spec adds how acks behave. */
export class FakeSocketBase {
	connected = false;
	active = false;
	connects = 0;
	auth!: (cb: (data: { token: string }) => void) => void;
	readonly handlers = new Map<string, (...args: unknown[]) => void>();
	readonly io: { backoff: { attempts: number; duration: () => number } };

	constructor(backoffMs: number) {
		this.io = { backoff: { attempts: 0, duration: () => backoffMs } };
	}

	on(event: string, handler: (...args: unknown[]) => void) {
		this.handlers.set(event, handler);
		return this;
	}

	fire(event: string, ...args: unknown[]) {
		this.handlers.get(event)?.(...args);
	}

	connect() {
		this.connects++;
		this.active = true;
		return this;
	}

	up() {
		this.connected = true;
		this.fire("connect");
	}
}
