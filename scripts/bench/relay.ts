import http from "http";
import { Server, Socket } from "socket.io";

/**
 * The bare relay of `npm run bench -- --compare`: a Socket.IO 4 server with nothing behind it (no
 * auth, no storage), speaking GoChat's `message:send` / `message:new` so the same clients drive
 * it. What GoChat costs on top of this is the price of its rules, storage and services.
 *
 *   POST /conversations {id, members: [userId]}   declares a conversation (before clients connect)
 *   GET /ready                                     200 once listening
 *   socket auth {token: userId}                    the token is the user ID
 */
const members = new Map<string, string[]>();
const seqs = new Map<string, number>();
let nextId = 0;

const userRoom = (userId: string) => `user:${userId}`;

function reply(res: http.ServerResponse, status: number, body: unknown) {
	res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}

const server = http.createServer((req, res) => {
	if (req.method === "GET" && req.url === "/ready") return reply(res, 200, { status: "ready" });
	if (req.method !== "POST" || req.url !== "/conversations")
		return reply(res, 404, { error: { code: "ROUTE_NOT_FOUND" } });
	let body = "";
	req.on("data", chunk => (body += chunk));
	req.on("end", () => {
		try {
			const { id, members: ids } = JSON.parse(body) as { id: string; members: string[] };
			members.set(id, ids);
			reply(res, 201, { id });
		} catch {
			reply(res, 400, { error: { code: "INVALID_INPUT" } });
		}
	});
});

// The same Socket.IO options as GoChat's gateway (services/gateway/socket-gateway.mixin.ts).
const io = new Server(server, {
	serveClient: false,
	pingInterval: 25000,
	pingTimeout: 20000,
	maxHttpBufferSize: 1024 * 1024
});

io.use((socket, next) => {
	const token = (socket.handshake.auth as { token?: unknown }).token;
	if (typeof token !== "string" || token === "")
		return next(new Error("UNAUTHORIZED: Connect with auth: {token: <userId>}"));
	socket.data.userId = token;
	next();
});

interface SendPayload {
	conversationId?: unknown;
	clientMsgId?: unknown;
	type?: unknown;
	content?: unknown;
}

io.on("connection", (socket: Socket) => {
	const userId = socket.data.userId as string;
	// Like GoChat: one room per user, pushes to the members' rooms except the sending socket.
	socket.join(userRoom(userId));
	socket.on("message:send", (payload: SendPayload, ack?: (reply: unknown) => void) => {
		const conversationId = payload?.conversationId;
		const ids = typeof conversationId === "string" ? members.get(conversationId) : undefined;
		if (!ids || !ids.includes(userId)) {
			ack?.({ ok: false, error: { code: "NOT_MEMBER", message: "You are not a member of this conversation" } });
			return;
		}
		const seq = (seqs.get(conversationId as string) ?? 0) + 1;
		seqs.set(conversationId as string, seq);
		const message = {
			id: String(++nextId),
			conversationId,
			senderId: userId,
			type: payload.type,
			content: payload.content,
			seq,
			clientMsgId: payload.clientMsgId,
			createdAt: new Date().toISOString()
		};
		ack?.({ ok: true, message });
		io.to(ids.map(userRoom)).except(socket.id).emit("message:new", { message });
	});
});

server.listen(Number(process.env.PORT ?? 0), "127.0.0.1");
process.on("SIGTERM", () => {
	io.close();
	process.exit(0);
});
