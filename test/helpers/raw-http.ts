import http from "http";

/**
 * HTTP exactly as given: the path is not normalised and the body is sent as raw text, so a test can
 * send what no well-behaved client library would (malformed JSON, odd content types, raw escapes).
 */
export interface RawRequest {
	method: string;
	/** Path and query string, sent as they are. */
	path: string;
	headers?: Record<string, string>;
	body?: string | Buffer;
}

export interface RawReply {
	status: number;
	headers: http.IncomingHttpHeaders;
	text: string;
	/** The body parsed as JSON, or undefined when it is not JSON. */
	json: any;
}

export class RawHttp {
	private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
	private readonly url: URL;

	constructor(
		baseUrl: string,
		private readonly timeoutMs = 10_000
	) {
		this.url = new URL(baseUrl);
	}

	request(req: RawRequest): Promise<RawReply> {
		return new Promise((resolve, reject) => {
			const headers: Record<string, string | number> = { ...req.headers };
			if (req.body !== undefined) headers["content-length"] = Buffer.byteLength(req.body);
			const outgoing = http.request(
				{
					agent: this.agent,
					host: this.url.hostname,
					port: this.url.port,
					method: req.method,
					path: req.path,
					headers,
					timeout: this.timeoutMs
				},
				res => {
					const chunks: Buffer[] = [];
					res.on("data", chunk => chunks.push(chunk));
					res.on("error", reject);
					res.on("end", () => {
						const text = Buffer.concat(chunks).toString("utf8");
						let json: unknown;
						try {
							json = text ? JSON.parse(text) : undefined;
						} catch {
							json = undefined;
						}
						resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
					});
				}
			);
			outgoing.on("timeout", () => outgoing.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
			outgoing.on("error", reject);
			outgoing.end(req.body);
		});
	}

	close(): void {
		this.agent.destroy();
	}
}
