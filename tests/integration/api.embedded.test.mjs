// Management + per-project API against a server running its own embedded PostgreSQL.
import { defineApiSuite } from './api-suite.mjs';

defineApiSuite('embedded');
