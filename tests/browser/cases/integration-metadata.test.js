// getIntegrationMetadata: the active integrations as /sdk/integrations
// names them (the provider's name, the integration's accent colour).
import assert from 'node:assert/strict';
import { suite, sdkCase } from '../lib/suite.js';
import { signIn } from '../lib/page-calls.js';

const world = suite('getIntegrationMetadata');

sdkCase(world, 'getIntegrationMetadata lists the active integrations with their names and colours', async ({ world, sdk }) => {
  await signIn(sdk, world, world.newUser());
  const icons = `${world.pages.origin}/cdn/integrations`;
  const all = await sdk(() => window.paragon.getIntegrationMetadata());
  assert.deepEqual(
    all.sort((a, b) => a.type.localeCompare(b.type)),
    [
      { type: 'notelab', name: 'NoteLab', brandColor: null, icon: `${icons}/notelab.svg` },
      { type: 'tasklab', name: 'TaskLab', brandColor: '#0B6E4F', icon: `${icons}/tasklab.svg` },
    ],
  );
  const one = await sdk(() => window.paragon.getIntegrationMetadata('tasklab'));
  assert.deepEqual(one, { type: 'tasklab', name: 'TaskLab', brandColor: '#0B6E4F', icon: `${icons}/tasklab.svg` });
  const inactive = await sdk(() => {
    try {
      return window.paragon.getIntegrationMetadata('draftlab');
    } catch (e) {
      return { error: e.message };
    }
  });
  assert.deepEqual(inactive, { error: 'draftlab is not a valid integration name' });
});
