// The `vault` section and each workspace's `credentials` in the runner config.
import { z } from 'zod';

export const vaultSchema = z.object({}).strict().optional();

/** `none`: the workspace needs no credentials. */
export const workspaceCredentialsSchema = z.literal('none').default('none');
