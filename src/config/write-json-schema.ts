// Writes runners/airlock.schema.json from the zod schema so editors can complete runner configs.
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { renderJsonSchema } from './json-schema.ts';

const target = fileURLToPath(new URL('../../runners/airlock.schema.json', import.meta.url));
await writeFile(target, renderJsonSchema());
console.log(`wrote ${target}`);
