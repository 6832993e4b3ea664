import { MemoryReportStore } from "../../src/report/memory-store.ts";
import { describeReportStore } from "./report-store-suite.ts";

describeReportStore("memory", async (options) => new MemoryReportStore(options), { exactUniques: true });
