// The same suite against an external PostgreSQL 15 the harness starts (ALPACA_DATABASE_URL).
import { defineApiSuite } from './api-suite.mjs';

defineApiSuite('external');
