import { performance } from "perf_hooks";
import { Etcd3, EtcdLeaseInvalidError, Lease, Namespace } from "etcd3";
import type { WorkerIdStore } from "./lease";

/**
 * Worker ID leases in etcd under `gochat/<namespace>/`: `workers/<id>` holds the owner and is
 * attached to an etcd lease of WORKER_LEASE_TTL seconds, so etcd deletes it when we stop renewing;
 * `minted/<id>` keeps the minting bound. Every write is a transaction comparing the owner, so a
 * process that lost its ID cannot touch the next holder's keys.
 */
export class EtcdWorkerIdStore implements WorkerIdStore {
	readonly where = "etcd";
	private readonly client: Etcd3;
	private readonly keys: Namespace;
	private lease: Lease | null = null;

	constructor(
		hosts: string[],
		namespace: string,
		private readonly owner: string,
		private readonly ttlSeconds: number
	) {
		this.client = new Etcd3({ hosts });
		this.keys = this.client.namespace(`gochat/${namespace}/`);
	}

	async tryAcquire(workerId: number, mintUntil: number) {
		const { id, since } = await this.freshLease();
		const taken = await this.keys
			.if(leaseKey(workerId), "Create", "==", 0)
			.then(this.keys.put(leaseKey(workerId)).value(this.owner).lease(id), this.keys.get(mintedKey(workerId)))
			.commit();
		if (!taken.succeeded) return null;
		const value = taken.responses[1]?.response_range?.kvs[0]?.value?.toString();
		const mintedUntil = value ? Number(value) : 0;
		if (mintUntil > mintedUntil) await this.recordMinted(workerId, mintUntil, id);
		return { since, mintedUntil };
	}

	async renew(workerId: number, mintUntil: number) {
		const lease = this.lease;
		if (!lease || lease.revoked()) return null;
		const since = performance.now();
		try {
			await lease.keepaliveOnce();
		} catch (err) {
			// etcd answered that the lease expired or was revoked: its keys are gone.
			if (err instanceof EtcdLeaseInvalidError) return null;
			throw err;
		}
		return (await this.recordMinted(workerId, mintUntil, await lease.grant())) ? since : null;
	}

	async release(workerId: number, mintedUntil: number) {
		const lease = this.lease;
		if (!lease) return;
		await this.keys
			.if(leaseKey(workerId), "Value", "==", this.owner)
			.then(
				this.keys.delete().key(leaseKey(workerId)),
				this.keys.put(mintedKey(workerId)).value(String(mintedUntil))
			)
			.commit();
		this.lease = null;
		await lease.revoke();
	}

	async close() {
		this.client.close();
	}

	/** Writes the minting bound if `workerId` is still ours under lease `id`; false when it is not. */
	private async recordMinted(workerId: number, mintUntil: number, id: string): Promise<boolean> {
		const result = await this.keys
			.if(leaseKey(workerId), "Value", "==", this.owner)
			.and(leaseKey(workerId), "Lease", "==", id)
			.then(this.keys.put(mintedKey(workerId)).value(String(mintUntil)))
			.commit();
		return result.succeeded;
	}

	/**
	 * The etcd lease a new key is attached to, with its TTL restarted no earlier than now: a
	 * new grant, or a keepalive of the one kept from a candidate that was taken.
	 */
	private async freshLease(): Promise<{ lease: Lease; id: string; since: number }> {
		let lease = this.lease && !this.lease.revoked() ? this.lease : null;
		const since = performance.now();
		if (lease) {
			await lease.keepaliveOnce();
		} else {
			lease = this.keys.lease(this.ttlSeconds, { autoKeepAlive: false });
			// The loss is noticed by the next renewal; without a listener the event is simply dropped.
			lease.on("lost", () => undefined);
		}
		const id = await lease.grant();
		this.lease = lease;
		return { lease, id, since };
	}
}

export function leaseKey(workerId: number): string {
	return `workers/${workerId}`;
}

function mintedKey(workerId: number): string {
	return `minted/${workerId}`;
}
