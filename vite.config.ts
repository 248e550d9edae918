import { defineConfig } from 'vitest/config';

// The UI is built from ui/ into ui/dist (tauri.conf.json's frontendDist).
export default defineConfig({
  root: 'ui',
  base: './',
  clearScreen: false,
  build: { outDir: 'dist', emptyOutDir: true, target: 'safari15' },
  test: { environment: 'jsdom', include: ['src/**/*.test.ts'] },
});
