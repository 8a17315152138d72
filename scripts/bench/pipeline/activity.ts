import type BetterSqlite3 from 'better-sqlite3';
import { openSqliteHandle } from '../../../src/db/database';

/** What the pipeline's receiver passes to its workflow: the verified event and where it came from. */
export interface PipelineEvent {
  workflowId: string;
  source: string;
  eventType: string;
  body: string;
}

export interface PipelineActivities {
  recordEvent(event: PipelineEvent): Promise<void>;
}

/**
 * The pipeline's one activity: the event written to a SQLite file with the knowledge base's own
 * settings (openSqliteHandle: WAL, synchronous NORMAL, the busy timeout). The workflow ID is the
 * idempotency key: a retried activity writes nothing twice.
 */
export function createPipelineActivities(path: string): { activities: PipelineActivities; db: BetterSqlite3.Database } {
  const db = openSqliteHandle(path, 'NORMAL');
  db.exec(`CREATE TABLE IF NOT EXISTS events (
    workflow_id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    event_type TEXT NOT NULL,
    body TEXT NOT NULL,
    recorded_at TEXT NOT NULL
  )`);
  const insert = db.prepare(
    'INSERT INTO events (workflow_id, source, event_type, body, recorded_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (workflow_id) DO NOTHING',
  );
  return {
    db,
    activities: {
      recordEvent(event) {
        insert.run(event.workflowId, event.source, event.eventType, event.body, new Date().toISOString());
        return Promise.resolve();
      },
    },
  };
}
