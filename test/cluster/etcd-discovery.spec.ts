import crypto from "crypto";
import { Etcd3 } from "etcd3";
import type { ServiceBroker } from "moleculer";
import { loadConfig } from "../../lib/config";
import { createBroker } from "../../moleculer.config";
import { serverSuite } from "../helpers/servers";
import { until } from "../helpers/wait";

/**
 * DISCOVERER=etcd3://… really puts node discovery in etcd: each node's heartbeat and INFO live
 * under moleculer-<namespace>/discovery/ while it runs, nodes find each other through them (a call
 * crosses from one to the other), and a stopped node leaves nothing behind.
 */
serverSuite("etcd", "discovery through etcd (DISCOVERER)", etcdServer => {
	const transporter = process.env.TRANSPORTER ?? process.env.TEST_NATS_URL;
	const namespace = `test-etcd-${crypto.randomBytes(4).toString("hex")}`;
	const prefix = `moleculer-${namespace}/discovery/`;
	const etcd = new Etcd3({ hosts: etcdServer.url });
	const brokers: ServiceBroker[] = [];

	const keys = () => etcd.getAll().prefix(prefix).keys();
	const start = async (nodeID: string, services: string, workerId: string) => {
		const { host } = new URL(etcdServer.url);
		const config = loadConfig({
			NODE_ID: nodeID,
			NAMESPACE: namespace,
			DISCOVERER: `etcd3://${host}`,
			SERVICES: services,
			DATABASE_URL: "sqlite::memory:",
			JWT_SECRET: crypto.randomBytes(32).toString("hex"),
			PORT: "0",
			// Fixed worker IDs: a leased one would be kept in etcd too, and this test counts etcd keys.
			WORKER_ID: workerId
		});
		// Without a transporter in the environment, Moleculer's in-memory one carries the calls; etcd still does discovery.
		const broker = createBroker(config, { transporter: transporter ?? "Fake", logger: false });
		brokers.push(broker);
		await broker.start();
		return broker;
	};

	afterAll(async () => {
		for (const broker of brokers) await broker.stop().catch(() => undefined);
		await etcd.delete().prefix(`moleculer-${namespace}/`);
		etcd.close();
	});

	test("two nodes register in etcd, find each other, call across, and leave no key after stopping", async () => {
		const repo = await start(`repo-${namespace}`, "repo", "1");
		// Moleculer writes a node's INFO and heartbeat right after start, without awaiting them.
		await until(async () => (await keys()).length === 2, "repo's keys in etcd", { everyMs: 100 });
		expect(await keys()).toEqual(
			expect.arrayContaining([
				`${prefix}info/${repo.nodeID}`,
				expect.stringMatching(new RegExp(`^${prefix}beats/${repo.nodeID}/`))
			])
		);

		const logic = await start(`logic-${namespace}`, "logic", "2");
		// The newcomer reads the nodes already in etcd at start; the others see it at their next heartbeat.
		await logic.waitForServices(["repo.users"], 5000);
		const seenAfterMs = await until(
			() =>
				repo.registry.nodes
					.list({ onlyAvailable: true, withServices: false })
					.some((n: { id: string }) => n.id === logic.nodeID),
			"repo sees logic",
			{ everyMs: 100 }
		);
		// One heartbeat interval (5 s, ± 0.5 s jitter) at most, plus the INFO read.
		expect(seenAfterMs).toBeLessThan(7_000);
		const found = await logic.call<unknown, { userIds: string[] }>("repo.presence.locate", { userIds: ["1"] });
		expect(found).toEqual({});
		const remote = await repo.call<Array<{ id: string }>, object>("$node.list", {}, { nodeID: logic.nodeID });
		expect(remote.map(n => n.id)).toEqual(expect.arrayContaining([repo.nodeID, logic.nodeID]));
		await until(
			async () => (await keys()).filter(key => key.includes(logic.nodeID)).length === 2,
			"logic's keys in etcd",
			{ everyMs: 100 }
		);

		await logic.stop();
		expect((await keys()).filter(key => key.includes(logic.nodeID))).toEqual([]);
		await repo.stop();
		expect(await keys()).toEqual([]);
	}, 30_000);

	test("a heartbeat that fires while a node leaves neither puts it back in etcd nor keeps a connection open", async () => {
		const etcdPort = Number(new URL(etcdServer.url).port);
		const openToEtcd = () =>
			(process as unknown as { _getActiveHandles(): Array<{ remotePort?: number; destroyed?: boolean }> })
				._getActiveHandles()
				.filter(handle => handle.remotePort === etcdPort && !handle.destroyed).length;
		await keys();
		const before = openToEtcd();
		const node = await start(`beat-${namespace}`, "repo", "3");
		await until(async () => (await keys()).some(key => key.includes(node.nodeID)), "the node's keys", {
			everyMs: 100
		});
		const registry = node.registry as unknown as {
			nodes: { localNode: { seq: number } };
			discoverer: { sendHeartbeat(): Promise<void>; localNodeDisconnected(): Promise<void> };
		};
		// The heartbeat timer runs until the transporter is gone: it can fire right after the node
		// removed its keys, with a changed seq (its services stopped), which grants a new lease.
		const discoverer = registry.discoverer;
		const leave = discoverer.localNodeDisconnected.bind(discoverer);
		let lateBeat: Promise<void> = Promise.resolve();
		discoverer.localNodeDisconnected = async () => {
			await leave();
			registry.nodes.localNode.seq++;
			lateBeat = discoverer.sendHeartbeat();
			await lateBeat;
		};
		await node.stop();
		await lateBeat;
		expect((await keys()).filter(key => key.includes(node.nodeID))).toEqual([]);
		await until(() => openToEtcd() <= before, "the stopped node's connections to etcd to close", {
			timeoutMs: 5000,
			everyMs: 100
		});
	}, 30_000);
});
