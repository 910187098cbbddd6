import { Account, SETUP_CONCURRENCY, Target } from "./server";
import { mapLimit } from "./util";

export interface Member extends Account {
	index: number;
	/** The member's 1:1 conversation, and the group it belongs to (if any). */
	direct?: string;
	group?: string;
}

/** The users the bench acts as, and who is in which conversation (by member index). */
export interface Population {
	members: Member[];
	membersOf: Map<string, number[]>;
}

/** `clients` users in pairs (1:1 conversations) and, over the same users, consecutive groups of `groupSize`. */
export async function pairsAndGroups(target: Target, clients: number, groupSize: number): Promise<Population> {
	const members: Member[] = (await target.register(clients)).map((account, index) => ({ ...account, index }));
	const membersOf = new Map<string, number[]>();
	const pairs: number[][] = [];
	for (let i = 0; i + 1 < members.length; i += 2) pairs.push([i, i + 1]);
	await mapLimit(pairs, SETUP_CONCURRENCY, async ([a, b]) => {
		const id = await target.createDirect(members[a], members[b]);
		members[a].direct = members[b].direct = id;
		membersOf.set(id, [a, b]);
	});
	const blocks: number[][] = [];
	for (let i = 0; groupSize >= 2 && i + groupSize <= members.length; i += groupSize)
		blocks.push(Array.from({ length: groupSize }, (_, k) => i + k));
	await mapLimit(blocks, SETUP_CONCURRENCY / 2, async block => {
		const [owner, ...rest] = block.map(i => members[i]);
		const id = await target.createGroup(owner, rest);
		for (const i of block) members[i].group = id;
		membersOf.set(id, block);
	});
	return { members, membersOf };
}

/** `size` users in one group; member 0 owns it. */
export async function oneGroup(target: Target, size: number, log: (line: string) => void): Promise<Population> {
	const started = Date.now();
	const members: Member[] = (await target.register(size)).map((account, index) => ({ ...account, index }));
	log(`registered               ${size} guests in ${((Date.now() - started) / 1000).toFixed(1)} s`);
	const id = await target.createGroup(members[0], members.slice(1));
	for (const member of members) member.group = id;
	log(
		`group created            ${id} with ${size} members in ${((Date.now() - started) / 1000).toFixed(1)} s since the start of set-up`
	);
	return { members, membersOf: new Map([[id, members.map(m => m.index)]]) };
}
