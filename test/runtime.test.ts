import { describe, expect, it } from 'vitest';

describe('runtime', () => {
  it('runs the tests on Node.js 24 or later, the LTS the image ships', () => {
    expect(Number(process.versions.node.split('.')[0])).toBeGreaterThanOrEqual(24);
  });
});
