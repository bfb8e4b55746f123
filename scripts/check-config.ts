import { loadConfigOrExit } from '../policy/config';

// Run first by scripts/up so a bad variable stops everything with one line, before anything starts.
loadConfigOrExit();
