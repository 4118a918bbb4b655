#!/usr/bin/env node
// The `bootstrap-cache` executable: registers tsx (the package ships TypeScript sources) and runs
// the CLI. See src/cli/main.ts for exit codes and logging.
import { register } from "tsx/esm/api"

register()
await import("../src/cli/main.ts")
