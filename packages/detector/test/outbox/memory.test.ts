import { MemoryOutbox } from "../../src/outbox/memory.ts";
import { outboxSuite } from "./outbox-suite.ts";

outboxSuite("MemoryOutbox", async () => {
  const box = new MemoryOutbox();
  await box.start();
  return box;
});
