import { io, Socket } from "socket.io-client";

/** Socket.IO clients for the integration tests: connect as a user, await events, await acks. */

export function connect(baseUrl: string, token: string | undefined): Promise<Socket> {
	const socket = io(baseUrl, {
		auth: token === undefined ? {} : { token },
		transports: ["websocket"],
		reconnection: false,
		forceNew: true
	});
	return new Promise((resolve, reject) => {
		socket.once("connect", () => resolve(socket));
		socket.once("connect_error", err => {
			socket.close();
			reject(err);
		});
	});
}

export function emitAck<T = any>(socket: Socket, event: string, payload?: unknown): Promise<T> {
	return socket.timeout(10000).emitWithAck(event, payload) as Promise<T>;
}

/** Resolves with the first `event` that matches. */
export function nextEvent<T = any>(
	socket: Socket,
	event: string,
	matches: (payload: T) => boolean = () => true
): Promise<T> {
	return new Promise(resolve => {
		const listener = (payload: T) => {
			if (!matches(payload)) return;
			socket.off(event, listener);
			resolve(payload);
		};
		socket.on(event, listener);
	});
}

/** Records every `event` a socket receives, to check later that nothing came twice or at all. */
export function record<T = any>(socket: Socket, event: string): T[] {
	const seen: T[] = [];
	socket.on(event, (payload: T) => seen.push(payload));
	return seen;
}

export function closeAll(sockets: Socket[]): void {
	for (const socket of sockets) socket.close();
}
