import fs from "fs";
import path from "path";
import type { ServiceBroker } from "moleculer";
import { REST_ROUTES, RestAction } from "../contracts/client";
import { PROJECT_ROOT } from "../project-paths";
import { buildOpenApiDocument, CreatedActions, OpenApiDocument } from "./document";

interface Endpoint {
	action?: { params?: Record<string, unknown> };
}

/** An action's declared params: the local endpoint's, else a remote one's (its schema crossed the transporter). */
function declaredParams(broker: ServiceBroker, action: string): Record<string, unknown> | undefined {
	// moleculer's typings leave out getActionEndpoints, which its registry has.
	const registry = broker.registry as unknown as {
		getActionEndpoints(name: string): { localEndpoint?: Endpoint; endpoints: Endpoint[] } | undefined;
	};
	const list = registry.getActionEndpoints(action);
	return (list?.localEndpoint ?? list?.endpoints[0])?.action?.params;
}

function packageVersion(): string {
	const pkg = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, "package.json"), "utf8")) as { version?: string };
	return pkg.version ?? "0.0.0";
}

/**
 * The document as the gateway serves it, built on first use and kept once the params of every REST
 * action are known (in a cluster a service may not have announced itself yet: built again until it has).
 */
export function openApiSource(broker: ServiceBroker, created: CreatedActions): () => OpenApiDocument {
	let cached: OpenApiDocument | undefined;
	return () => {
		if (cached) return cached;
		const params: Partial<Record<RestAction, Record<string, unknown>>> = {};
		for (const action of Object.keys(REST_ROUTES) as RestAction[]) params[action] = declaredParams(broker, action);
		const document = buildOpenApiDocument({ version: packageVersion(), params, created });
		if (Object.values(params).every(Boolean)) cached = document;
		return document;
	};
}
