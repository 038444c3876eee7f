import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// Fixed file names (no content hashes) and relative URLs: the bundle is committed and
// served by Streamlit from the package, and `npm ci && npm run build` must give
// byte-identical files every time (CI checks with `git diff --exit-code dist`).
export default defineConfig({
  base: "./",
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 3000,
    rollupOptions: {
      output: {
        entryFileNames: "assets/canvas.js",
        chunkFileNames: "assets/[name].js",
        assetFileNames: "assets/[name][extname]",
      },
    },
  },
  test: { environment: "node", include: ["tests/**/*.test.ts"] },
} as never);
