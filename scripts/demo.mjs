#!/usr/bin/env node
// @ts-check
// `npm run demo`: the entry named in package.json; the demo itself lives in scripts/demo/.
import './demo/run.mjs'
