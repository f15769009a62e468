/**
 * Moved to test/support/fixtures.ts. This re-export stays only until test/api/ (edited by
 * another branch at the time of the move) imports from test/support directly; then delete it.
 */
export * from '../support/fixtures.js';
