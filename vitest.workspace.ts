import { defineWorkspace } from "vitest/config"

// Every package is a project with its own vitest.config.ts (name, include, source resolution).
export default defineWorkspace(["packages/*"])
