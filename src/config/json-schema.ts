import { z } from 'zod';
import { configSchema } from './schema.ts';

/** The JSON Schema of a runner config file, as editors read it (the input side: "15m", not 900000). */
export function renderJsonSchema(): string {
  const schema = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' });
  return `${JSON.stringify({ ...schema, title: 'Airlock runner config' }, null, 2)}\n`;
}
