/** @gochat/client: the GoChat SDK. See the README's "Clients" section for the ten-line version. */
export { GoChatClient } from "./client";
export type { GoChatClientOptions } from "./client";
export { GoChatError } from "./errors";
export { MemoryTokenStore, WebStorageTokenStore } from "./token-store";
export { OUTBOX_STORE_MAX, WebStorageOutboxStore } from "./outbox-store";
export { Api } from "./api";
export { Session } from "./session";
export { Emitter } from "./emitter";
export { REST_BASE_PATH, REST_ROUTES } from "../../lib/contracts/client";
export type * from "./types";
