/** One event for some users' sockets, or for every socket (`everyone`, the world room). */
export interface Push {
	userIds: string[];
	event: string;
	payload: unknown;
	/** The sending socket, which has the message from its ack already. */
	exceptSocketId?: string;
	everyone?: boolean;
}

export interface DeliveryReport {
	nodes: number;
	recipients: number;
	/** Nodes whose push failed; their users catch up by sync, or the queue retries the batch. */
	failedNodes: number;
}

export interface PushTransport {
	/** For each user, the gateway nodes holding their sockets (absent when offline). */
	locate(userIds: string[]): Promise<Record<string, string[]>>;
	/** Every gateway node (for pushes to everyone). */
	gatewayNodes(): string[];
	/** One call to one gateway node, carrying every push due there. */
	send(nodeId: string, pushes: Push[]): Promise<void>;
}

interface Waiting {
	push: Push;
	resolve(report: DeliveryReport): void;
	reject(err: unknown): void;
}

/**
 * Coalesces the pushes that fall due together (a group commit acks many messages in one tick,
 * fan-out batches run side by side): one presence lookup for all their users, then one call per
 * gateway node carrying every push for it, instead of a lookup and a call per message.
 */
export class PushCoalescer {
	private waiting: Waiting[] = [];
	private scheduled = false;
	calls = 0;
	pushes = 0;

	constructor(private readonly transport: PushTransport) {}

	deliver(push: Push): Promise<DeliveryReport> {
		return new Promise((resolve, reject) => {
			this.waiting.push({ push, resolve, reject });
			if (this.scheduled) return;
			this.scheduled = true;
			setImmediate(() => {
				this.scheduled = false;
				const due = this.waiting;
				this.waiting = [];
				this.flush(due).catch(err => due.forEach(w => w.reject(err)));
			});
		});
	}

	private async flush(due: Waiting[]): Promise<void> {
		const userIds = [...new Set(due.flatMap(w => (w.push.everyone ? [] : w.push.userIds)))];
		const located = userIds.length > 0 ? await this.transport.locate(userIds) : {};
		const everywhere = due.some(w => w.push.everyone) ? this.transport.gatewayNodes() : [];

		// Per node: the pushes for it, each narrowed to the users it holds.
		const byNode = new Map<string, Array<{ waiting: Waiting; push: Push }>>();
		const add = (nodeId: string, waiting: Waiting, push: Push) => {
			const list = byNode.get(nodeId);
			if (list) list.push({ waiting, push });
			else byNode.set(nodeId, [{ waiting, push }]);
		};
		const reports = new Map<Waiting, DeliveryReport & { nodeIds: Set<string> }>();
		for (const waiting of due) {
			const report = { nodes: 0, recipients: 0, failedNodes: 0, nodeIds: new Set<string>() };
			reports.set(waiting, report);
			if (waiting.push.everyone) {
				for (const nodeId of everywhere) add(nodeId, waiting, waiting.push);
				everywhere.forEach(nodeId => report.nodeIds.add(nodeId));
				continue;
			}
			const usersByNode = new Map<string, string[]>();
			for (const userId of waiting.push.userIds) {
				const nodeIds = located[userId];
				if (!nodeIds?.length) continue;
				report.recipients++;
				for (const nodeId of nodeIds) {
					const users = usersByNode.get(nodeId);
					if (users) users.push(userId);
					else usersByNode.set(nodeId, [userId]);
				}
			}
			for (const [nodeId, users] of usersByNode) {
				add(nodeId, waiting, { ...waiting.push, userIds: users });
				report.nodeIds.add(nodeId);
			}
		}

		const failed = new Set<string>();
		await Promise.all(
			[...byNode].map(async ([nodeId, list]) => {
				this.calls++;
				this.pushes += list.length;
				await this.transport
					.send(
						nodeId,
						list.map(entry => entry.push)
					)
					.catch(() => failed.add(nodeId));
			})
		);
		for (const waiting of due) {
			const { nodeIds, recipients } = reports.get(waiting)!;
			waiting.resolve({
				nodes: nodeIds.size,
				recipients,
				failedNodes: [...nodeIds].filter(id => failed.has(id)).length
			});
		}
	}
}
