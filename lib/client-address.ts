import type { IncomingMessage } from "http";
import net from "net";

/**
 * The address a client's limits are counted against. Behind `trustProxyHops` proxies it is the
 * entry that many hops from the right of X-Forwarded-For (the ones to its left are the client's
 * own say, so not trusted). IPv4-mapped IPv6 becomes plain IPv4; other IPv6 addresses count by
 * their /64, the block one subscriber gets, so rotating addresses inside it does not help.
 */
export function clientAddress(req: Pick<IncomingMessage, "headers" | "socket">, trustProxyHops: number): string {
	let address = req.socket?.remoteAddress ?? "";
	if (trustProxyHops > 0) {
		const header = req.headers["x-forwarded-for"];
		const hops = (Array.isArray(header) ? header.join(",") : (header ?? ""))
			.split(",")
			.map(s => s.trim())
			.filter(Boolean);
		const forwarded = hops[hops.length - trustProxyHops];
		if (forwarded && net.isIP(forwarded)) address = forwarded;
	}
	return normalizeAddress(address);
}

export function normalizeAddress(address: string): string {
	if (address.startsWith("::ffff:") && net.isIPv4(address.slice(7))) return address.slice(7);
	if (!net.isIPv6(address)) return address || "unknown";
	return `${ipv6Prefix64(address)}::/64`;
}

/** The first four groups of an IPv6 address, "::" expanded. */
function ipv6Prefix64(address: string): string {
	const [head, tail = ""] = address.split("::");
	const left = head ? head.split(":") : [];
	const right = address.includes("::") && tail ? tail.split(":") : [];
	const groups = [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill("0"), ...right];
	return groups
		.slice(0, 4)
		.map(g => (parseInt(g, 16) || 0).toString(16))
		.join(":");
}
