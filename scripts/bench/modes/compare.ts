import { Options } from "../options";
import { label, log } from "../report";
import { startRelay, Target } from "../server";
import { connectedLoad, criterion, findMax, Found } from "./find-max";

async function capacityOf(target: Target, options: Options): Promise<Found> {
	try {
		const driver = await connectedLoad(target, options);
		try {
			return await findMax(driver, options, target.name);
		} finally {
			driver.close();
		}
	} finally {
		await target.stop();
	}
}

/**
 * --compare: the same find-max against a bare Socket.IO relay (what the sockets alone cost on this
 * machine) and against GoChat, one after the other so they never share the CPU.
 */
export async function runCompare(startGoChat: () => Promise<Target>, options: Options): Promise<void> {
	log(
		`GoChat bench --compare: ${options.clients} clients, ${Math.round(options.groupShare * 100)}% of sends to groups of ${options.groupSize}; bare Socket.IO relay first, then GoChat`
	);
	const relay = await capacityOf(await startRelay(), options);
	const goChat = await capacityOf(await startGoChat(), options);
	log(`capacity (${criterion(options)})`);
	log(`  ${label("bare Socket.IO relay")}${relay.capacity} msg/s (stopped ${relay.stoppedBy})`);
	log(`  ${label("GoChat")}${goChat.capacity} msg/s (stopped ${goChat.stoppedBy})`);
	log(`  ${label("GoChat / relay")}${relay.capacity > 0 ? (goChat.capacity / relay.capacity).toFixed(2) : "n/a"}`);
}
