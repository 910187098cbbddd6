import type { IncomingMessage, ServerResponse } from "http";
import { GoChatError } from "../../lib/errors";
import { nestingExceeds } from "../../lib/payload-shape";

type Request = IncomingMessage & { query?: Record<string, unknown>; body?: unknown };

const hasBody = (req: IncomingMessage) =>
	Number(req.headers["content-length"] ?? 0) > 0 || req.headers["transfer-encoding"] !== undefined;

/**
 * Runs after the JSON body parser, before params are merged:
 * - a body that is not JSON is refused (415) instead of being silently ignored;
 * - a body or query nested deeper than JSON_MAX_DEPTH is refused (400) before anything walks it;
 * - writes take their input from the body only, so secrets never need to ride in URLs and a
 *   query string cannot override what the body says;
 * - an empty query value (`?beforeSeq=`) counts as absent rather than as 0.
 */
export function requestHygiene(maxDepth: number) {
	return (req: Request, res: ServerResponse, next: (err?: unknown) => void): void =>
		checkRequest(req, res, next, maxDepth);
}

function checkRequest(req: Request, _res: ServerResponse, next: (err?: unknown) => void, maxDepth: number): void {
	if (req.method !== "GET" && req.method !== "HEAD" && hasBody(req)) {
		const type = String(req.headers["content-type"] ?? "");
		// Only what the JSON body parser reads: application/json (any charset).
		if (!/^application\/json\s*(;|$)/i.test(type)) {
			return next(new GoChatError("UNSUPPORTED_MEDIA_TYPE", "Send the body as application/json"));
		}
	}
	if (req.query) {
		if (req.method !== "GET" && req.method !== "HEAD") req.query = {};
		else for (const [key, value] of Object.entries(req.query)) if (value === "") delete req.query[key];
	}
	if (nestingExceeds(req.body, maxDepth) || nestingExceeds(req.query, maxDepth)) {
		return next(new GoChatError("INVALID_INPUT", `The request is nested deeper than ${maxDepth} levels`));
	}
	next();
}
