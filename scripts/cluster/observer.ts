import { ServiceBroker } from "moleculer";
import { etcdHosts } from "../../lib/config";
import { ClusterOptions } from "./options";

/**
 * A short-lived node in the cluster's namespace that only asks the others what they see: a node's
 * own /ready cannot tell whether the rest of the cluster has discovered it yet.
 */
export async function startObserver({ transporter, discoverer, namespace }: ClusterOptions): Promise<ServiceBroker> {
	const observer = new ServiceBroker({
		namespace,
		nodeID: `cluster-observer-${process.pid}`,
		transporter,
		logger: false,
		registry: {
			discoverer: discoverer ? { type: "Etcd3", options: { etcd: { hosts: etcdHosts(discoverer) } } } : "Local"
		}
	});
	await observer.start();
	return observer;
}

/** Every "node → other node" that node does not list as available yet, and the nodes that do not answer. */
export async function unseenPairs(observer: ServiceBroker, names: string[]): Promise<string[]> {
	const unseen: string[] = [];
	await Promise.all(
		names.map(async name => {
			const nodes = await observer
				.call<Array<{ id: string }>, object>("$node.list", { onlyAvailable: true }, { nodeID: name })
				.catch(() => []);
			const known = new Set(nodes.map(node => node.id));
			for (const other of names) if (other !== name && !known.has(other)) unseen.push(`${name} → ${other}`);
			if (nodes.length === 0) unseen.push(`${name} (no answer)`);
		})
	);
	return unseen;
}
