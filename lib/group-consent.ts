import { fail } from "./errors";
import type { GroupAddPolicy, GroupAddRefusal } from "./types";

/** What is known about one user someone wants to add to a group. */
export interface AddCandidate {
	userId: string;
	policy: GroupAddPolicy;
	/** They blocked this group. */
	blocked: boolean;
	/** They have a 1:1 conversation with the adder. */
	contact: boolean;
}

/** Why a candidate may not be added, or null if they may. A block wins over any policy. */
export function refusalReason(candidate: AddCandidate): GroupAddRefusal["reason"] | null {
	if (candidate.blocked) return "blocked";
	if (candidate.policy === "nobody") return "policy";
	if (candidate.policy === "contacts" && !candidate.contact) return "policy";
	return null;
}

/** The candidates who may be added, in their order, and the refusals. */
export function screenCandidates(candidates: AddCandidate[]): { allowed: string[]; refused: GroupAddRefusal[] } {
	const allowed: string[] = [];
	const refused: GroupAddRefusal[] = [];
	for (const candidate of candidates) {
		const reason = refusalReason(candidate);
		if (reason) refused.push({ userId: candidate.userId, reason });
		else allowed.push(candidate.userId);
	}
	return { allowed, refused };
}

/** A request that would add nobody because everyone it named refused is refused as a whole, saying who and why. */
export function requireSomeoneAllowed(allowed: string[], refused: GroupAddRefusal[]): void {
	if (allowed.length === 0 && refused.length > 0) {
		fail("FORBIDDEN", "None of these users can be added to this group", { refused });
	}
}
