import { Discoverers, DiscovererOptions } from "moleculer";

/**
 * Moleculer's Etcd3 discoverer, stopped in order. Its own stop closes the etcd client while a
 * heartbeat or node-info write may still be under way; that write (or the "lost" handler of its
 * lease) then grants a new lease with keep-alive on the closed client, and the socket to etcd
 * outlives the broker: a test process never exits, and etcd keeps a dead node's keys until the
 * lease is revoked. Here no write starts once the node leaves, and leaving waits for those under way.
 */
export class SettledEtcd3Discoverer extends Discoverers.Etcd3 {
	private leaving = false;
	private underWay = new Set<Promise<void>>();

	constructor(opts: DiscovererOptions) {
		super(opts);
	}

	sendHeartbeat(): Promise<void> {
		return this.leaving ? Promise.resolve() : this.track(super.sendHeartbeat());
	}

	sendLocalNodeInfo(nodeID: string): Promise<void> {
		return this.leaving ? Promise.resolve() : this.track(super.sendLocalNodeInfo(nodeID));
	}

	async localNodeDisconnected(): Promise<void> {
		await this.settle();
		return super.localNodeDisconnected();
	}

	async stop(): Promise<void> {
		await this.settle();
		return super.stop();
	}

	private async settle(): Promise<void> {
		this.leaving = true;
		await Promise.allSettled([...this.underWay]);
	}

	private track(write: Promise<void>): Promise<void> {
		this.underWay.add(write);
		return write.finally(() => this.underWay.delete(write));
	}
}
