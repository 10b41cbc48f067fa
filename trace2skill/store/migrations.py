"""Schema migrations, applied once at start-up (see `Workspace`).

Each migration is a small named function; sqlite-utils records which have run in
`_sqlite_migrations`. Never edit a migration that has shipped: add a new one.
"""

from __future__ import annotations

from sqlite_utils import Database, Migrations

MIGRATIONS = Migrations("trace2skill")


def _run(db: Database, *statements: str) -> None:
    for sql in statements:
        db.execute(sql)


@MIGRATIONS()
def m001_trajectories(db: Database) -> None:
    _run(
        db,
        """CREATE TABLE trajectories (
            id TEXT PRIMARY KEY,
            source_format TEXT NOT NULL,
            source_name TEXT NOT NULL DEFAULT '',
            task_id TEXT,
            task TEXT NOT NULL DEFAULT '',
            model TEXT,
            outcome TEXT NOT NULL CHECK (outcome IN ('success', 'failure', 'unknown')),
            outcome_source TEXT NOT NULL DEFAULT 'data' CHECK (outcome_source IN ('data', 'user')),
            reward REAL,
            outcome_detail TEXT,
            ground_truth TEXT,
            final_output TEXT,
            metadata TEXT NOT NULL DEFAULT '{}',
            n_steps INTEGER NOT NULL DEFAULT 0,
            n_tool_calls INTEGER NOT NULL DEFAULT 0,
            n_errors INTEGER NOT NULL DEFAULT 0,
            imported_at TEXT NOT NULL
        )""",
        "CREATE INDEX idx_trajectories_outcome ON trajectories(outcome)",
        "CREATE INDEX idx_trajectories_format ON trajectories(source_format)",
        "CREATE INDEX idx_trajectories_task ON trajectories(task_id)",
        "CREATE INDEX idx_trajectories_imported ON trajectories(imported_at)",
        """CREATE TABLE steps (
            trajectory_id TEXT NOT NULL REFERENCES trajectories(id) ON DELETE CASCADE,
            idx INTEGER NOT NULL,
            role TEXT NOT NULL,
            text TEXT NOT NULL DEFAULT '',
            reasoning TEXT NOT NULL DEFAULT '',
            tool_calls TEXT NOT NULL DEFAULT '[]',
            tool_results TEXT NOT NULL DEFAULT '[]',
            tool_name TEXT,
            is_error INTEGER NOT NULL DEFAULT 0,
            timestamp TEXT,
            raw_ref TEXT,
            PRIMARY KEY (trajectory_id, idx)
        )""",
        """CREATE TABLE signals (
            id INTEGER PRIMARY KEY,
            trajectory_id TEXT NOT NULL REFERENCES trajectories(id) ON DELETE CASCADE,
            step_idx INTEGER,
            kind TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT ''
        )""",
        "CREATE INDEX idx_signals_trajectory ON signals(trajectory_id)",
        "CREATE INDEX idx_signals_kind ON signals(kind, trajectory_id)",
    )
    db.table("trajectories").enable_fts(["task", "final_output"], create_triggers=True, tokenize="porter")
    # Steps are indexed in bulk after each import batch (an INSERT ... SELECT is ~4x faster than a
    # per-row trigger); only deletes and updates are kept in step by triggers.
    _external_fts(db, "steps", ["text", "reasoning", "tool_calls", "tool_results"])


def _external_fts(db: Database, table: str, columns: list[str]) -> None:
    cols = ", ".join(columns)
    old = ", ".join(f"old.{c}" for c in columns)
    new = ", ".join(f"new.{c}" for c in columns)
    _run(
        db,
        f"CREATE VIRTUAL TABLE {table}_fts USING fts5({cols}, content={table}, tokenize='porter')",
        f"""CREATE TRIGGER {table}_fts_ad AFTER DELETE ON {table} BEGIN
            INSERT INTO {table}_fts ({table}_fts, rowid, {cols}) VALUES ('delete', old.rowid, {old});
        END""",
        f"""CREATE TRIGGER {table}_fts_au AFTER UPDATE ON {table} BEGIN
            INSERT INTO {table}_fts ({table}_fts, rowid, {cols}) VALUES ('delete', old.rowid, {old});
            INSERT INTO {table}_fts (rowid, {cols}) VALUES (new.rowid, {new});
        END""",
    )


@MIGRATIONS()
def m002_runs_and_llm_calls(db: Database) -> None:
    _run(
        db,
        """CREATE TABLE runs (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            config TEXT NOT NULL DEFAULT '{}',
            status TEXT NOT NULL DEFAULT 'queued',
            counters TEXT NOT NULL DEFAULT '{}',
            error TEXT,
            created TEXT NOT NULL,
            started TEXT,
            finished TEXT,
            heartbeat TEXT
        )""",
        "CREATE INDEX idx_runs_kind ON runs(kind, created)",
        """CREATE TABLE run_items (
            run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            item_id TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'queued',
            error TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            prompt_tokens INTEGER NOT NULL DEFAULT 0,
            completion_tokens INTEGER NOT NULL DEFAULT 0,
            started TEXT,
            finished TEXT,
            PRIMARY KEY (run_id, item_id)
        )""",
        "CREATE INDEX idx_run_items_status ON run_items(run_id, status)",
        """CREATE TABLE llm_calls (
            id TEXT PRIMARY KEY,
            run_id TEXT REFERENCES runs(id) ON DELETE SET NULL,
            request_hash TEXT NOT NULL,
            model TEXT NOT NULL,
            request TEXT NOT NULL,
            response TEXT,
            usage TEXT,
            latency_s REAL,
            error TEXT,
            created TEXT NOT NULL
        )""",
        "CREATE INDEX idx_llm_calls_hash ON llm_calls(request_hash)",
        "CREATE INDEX idx_llm_calls_run ON llm_calls(run_id)",
    )


@MIGRATIONS()
def m003_lessons(db: Database) -> None:
    _run(
        db,
        """CREATE TABLE lessons (
            id TEXT PRIMARY KEY,
            run_id TEXT REFERENCES runs(id) ON DELETE SET NULL,
            trajectory_id TEXT NOT NULL REFERENCES trajectories(id) ON DELETE CASCADE,
            kind TEXT NOT NULL,
            title TEXT NOT NULL,
            description TEXT NOT NULL DEFAULT '',
            content TEXT NOT NULL,
            evidence TEXT NOT NULL DEFAULT '[]',
            grounded INTEGER,
            status TEXT NOT NULL DEFAULT 'proposed'
                CHECK (status IN ('proposed', 'approved', 'rejected')),
            edited_by TEXT,
            version INTEGER NOT NULL DEFAULT 1,
            created TEXT NOT NULL,
            updated TEXT NOT NULL
        )""",
        "CREATE INDEX idx_lessons_status ON lessons(status)",
        "CREATE INDEX idx_lessons_trajectory ON lessons(trajectory_id)",
        "CREATE INDEX idx_lessons_run ON lessons(run_id)",
    )
    db.table("lessons").enable_fts(["title", "description", "content"], create_triggers=True, tokenize="porter")


@MIGRATIONS()
def m004_patches_and_merges(db: Database) -> None:
    _run(
        db,
        """CREATE TABLE patches (
            id TEXT PRIMARY KEY,
            run_id TEXT REFERENCES runs(id) ON DELETE CASCADE,
            level INTEGER NOT NULL DEFAULT 0,
            edits TEXT NOT NULL DEFAULT '[]',
            created TEXT NOT NULL
        )""",
        "CREATE INDEX idx_patches_run ON patches(run_id, level)",
        """CREATE TABLE merge_nodes (
            run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            level INTEGER NOT NULL,
            idx INTEGER NOT NULL,
            inputs TEXT NOT NULL DEFAULT '[]',
            output TEXT,
            status TEXT NOT NULL DEFAULT 'queued',
            rationale TEXT NOT NULL DEFAULT '',
            dropped TEXT NOT NULL DEFAULT '[]',
            conflicts TEXT NOT NULL DEFAULT '[]',
            error TEXT,
            PRIMARY KEY (run_id, level, idx)
        )""",
    )


@MIGRATIONS()
def m005_skills_and_decisions(db: Database) -> None:
    _run(
        db,
        """CREATE TABLE skills (
            name TEXT PRIMARY KEY,
            description TEXT NOT NULL DEFAULT '',
            locked_sections TEXT NOT NULL DEFAULT '[]',
            created TEXT NOT NULL
        )""",
        """CREATE TABLE skill_versions (
            id TEXT PRIMARY KEY,
            skill TEXT NOT NULL REFERENCES skills(name) ON DELETE CASCADE,
            parent TEXT REFERENCES skill_versions(id),
            files TEXT NOT NULL DEFAULT '{}',
            source TEXT NOT NULL CHECK (source IN ('import', 'proposal', 'manual')),
            run_id TEXT REFERENCES runs(id) ON DELETE SET NULL,
            message TEXT NOT NULL DEFAULT '',
            created TEXT NOT NULL
        )""",
        "CREATE INDEX idx_skill_versions_skill ON skill_versions(skill, created)",
        """CREATE TABLE decisions (
            id INTEGER PRIMARY KEY,
            subject_type TEXT NOT NULL,
            subject_id TEXT NOT NULL,
            action TEXT NOT NULL,
            actor TEXT NOT NULL DEFAULT 'user',
            detail TEXT NOT NULL DEFAULT '{}',
            created TEXT NOT NULL
        )""",
        "CREATE INDEX idx_decisions_subject ON decisions(subject_type, subject_id)",
    )


@MIGRATIONS()
def m006_line_origins(db: Database) -> None:
    """Which edit wrote each line of a proposed skill version (for provenance)."""
    _run(
        db,
        """CREATE TABLE line_origins (
            version_id TEXT NOT NULL REFERENCES skill_versions(id) ON DELETE CASCADE,
            file TEXT NOT NULL,
            run_id TEXT REFERENCES runs(id) ON DELETE SET NULL,
            origins TEXT NOT NULL DEFAULT '[]',
            PRIMARY KEY (version_id, file)
        )""",
    )


@MIGRATIONS()
def m007_settings(db: Database) -> None:
    """Workspace settings (LLM endpoint and model; never the API key)."""
    _run(db, "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)")


@MIGRATIONS()
def m008_evaluation(db: Database) -> None:
    """Held-out evaluation: task sets with ground truth, the evolve/held-out split of trajectories,
    the skill variants ("arms") an evaluation run compares, and per-task results."""
    _run(
        db,
        """CREATE TABLE eval_tasks (
            id TEXT PRIMARY KEY,
            prompt TEXT NOT NULL,
            context TEXT NOT NULL DEFAULT '',
            answers TEXT NOT NULL DEFAULT '[]',
            gold TEXT,
            source TEXT NOT NULL DEFAULT '',
            source_id TEXT,
            trajectory_id TEXT REFERENCES trajectories(id) ON DELETE SET NULL,
            text_hash TEXT NOT NULL,
            created TEXT NOT NULL
        )""",
        "CREATE INDEX idx_eval_tasks_text ON eval_tasks(text_hash)",
        """CREATE TABLE eval_sets (
            name TEXT NOT NULL,
            task_id TEXT NOT NULL REFERENCES eval_tasks(id) ON DELETE CASCADE,
            idx INTEGER NOT NULL,
            created TEXT NOT NULL,
            PRIMARY KEY (name, task_id)
        )""",
        """CREATE TABLE splits (
            trajectory_id TEXT PRIMARY KEY REFERENCES trajectories(id) ON DELETE CASCADE,
            split TEXT NOT NULL CHECK (split IN ('evolve', 'heldout')),
            created TEXT NOT NULL
        )""",
        "CREATE INDEX idx_splits_split ON splits(split)",
        """CREATE TABLE eval_arms (
            run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            arm TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('candidate', 'baseline', 'ablation')),
            label TEXT NOT NULL DEFAULT '',
            version_id TEXT REFERENCES skill_versions(id) ON DELETE SET NULL,
            files TEXT,
            detail TEXT NOT NULL DEFAULT '{}',
            PRIMARY KEY (run_id, arm)
        )""",
        "CREATE INDEX idx_eval_arms_version ON eval_arms(version_id, role)",
        """CREATE TABLE eval_results (
            run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            arm TEXT NOT NULL,
            repeat INTEGER NOT NULL,
            task_id TEXT NOT NULL,
            passed INTEGER NOT NULL,
            answer TEXT NOT NULL DEFAULT '',
            detail TEXT NOT NULL DEFAULT '',
            call_id TEXT,
            PRIMARY KEY (run_id, arm, repeat, task_id)
        )""",
    )


@MIGRATIONS()
def m009_run_engine(db: Database) -> None:
    """The run engine: when the latest execution of a run began (for throughput and ETA), when a
    retrying item tries again, which item an LLM call was made for, and the calls a run answered
    from the cache (both for `trace2skill logs`)."""
    _run(
        db,
        "ALTER TABLE runs ADD COLUMN resumed TEXT",
        "ALTER TABLE runs ADD COLUMN owner TEXT",  # host:pid of the process executing it
        "ALTER TABLE runs ADD COLUMN executions INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE run_items ADD COLUMN execution INTEGER",  # the execution that started the item
        "ALTER TABLE run_items ADD COLUMN retry_at TEXT",
        "ALTER TABLE llm_calls ADD COLUMN item_id TEXT",
        "CREATE INDEX idx_llm_calls_item ON llm_calls(run_id, item_id)",
        "CREATE INDEX idx_runs_parent ON runs(kind, status)",
        """CREATE TABLE llm_cache_hits (
            id INTEGER PRIMARY KEY,
            call_id TEXT NOT NULL,
            run_id TEXT REFERENCES runs(id) ON DELETE CASCADE,
            item_id TEXT,
            created TEXT NOT NULL
        )""",
        "CREATE INDEX idx_llm_cache_hits_run ON llm_cache_hits(run_id, item_id)",
        # A merge that fell back was stored as "done" with its reason in the rationale; now it is a status.
        "UPDATE merge_nodes SET status = 'fallback' WHERE status = 'done' AND rationale LIKE 'merge answer invalid%'",
    )


@MIGRATIONS()
def m010_lesson_quality(db: Database) -> None:
    """Quality flags found by code, replay verification (its latest verdict on the lesson, every
    check with its replays), and the lessons a fix-loop revision replaces."""
    _run(
        db,
        "ALTER TABLE lessons ADD COLUMN flags TEXT NOT NULL DEFAULT '[]'",
        "ALTER TABLE lessons ADD COLUMN verdict TEXT",
        "ALTER TABLE lessons ADD COLUMN round INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE lessons ADD COLUMN revises TEXT NOT NULL DEFAULT '[]'",
        "CREATE INDEX idx_lessons_verdict ON lessons(verdict)",
        """CREATE TABLE lesson_checks (
            lesson_id TEXT NOT NULL REFERENCES lessons(id) ON DELETE CASCADE,
            run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            verdict TEXT NOT NULL,
            rate_with REAL,
            rate_without REAL,
            repeats INTEGER NOT NULL DEFAULT 0,
            round INTEGER NOT NULL DEFAULT 0,
            evidence TEXT NOT NULL DEFAULT '{}',
            created TEXT NOT NULL,
            PRIMARY KEY (lesson_id, run_id)
        )""",
    )


@MIGRATIONS()
def m011_imports(db: Database) -> None:
    """Import history and relabelling. Every import of a file is recorded (`imports`: file, format,
    mapping, counts, when, who) with the trajectories it brought (`import_trajectories`: added, already
    present, or relabelled), so an import can be listed and deleted.

    From this version a trajectory's id hashes its content (task, steps, source) and not its outcome,
    so a re-import with a corrected outcome relabels the trajectory instead of adding a second one.
    Existing workspaces keep their old ids (lessons, splits and decisions point at them): each old
    trajectory's outcome-free key is computed here into `content_key`, which is what imports match
    on, and the trajectories already there are recorded as one earlier import per source file."""
    from trace2skill.store.content_keys import backfill_content_keys, record_earlier_imports

    _run(
        db,
        """CREATE TABLE imports (
            id INTEGER PRIMARY KEY,
            file TEXT NOT NULL,
            format TEXT,
            mapping TEXT,
            records INTEGER NOT NULL DEFAULT 0,
            imported INTEGER NOT NULL DEFAULT 0,
            duplicates INTEGER NOT NULL DEFAULT 0,
            relabelled INTEGER NOT NULL DEFAULT 0,
            errors INTEGER NOT NULL DEFAULT 0,
            status TEXT NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'done', 'earlier')),
            actor TEXT NOT NULL DEFAULT 'user',
            user TEXT,
            started TEXT NOT NULL,
            finished TEXT
        )""",
        """CREATE TABLE import_trajectories (
            import_id INTEGER NOT NULL REFERENCES imports(id) ON DELETE CASCADE,
            trajectory_id TEXT NOT NULL REFERENCES trajectories(id) ON DELETE CASCADE,
            change TEXT NOT NULL CHECK (change IN ('added', 'present', 'relabelled')),
            PRIMARY KEY (import_id, trajectory_id)
        )""",
        "CREATE INDEX idx_import_trajectories_trajectory ON import_trajectories(trajectory_id)",
        "ALTER TABLE trajectories ADD COLUMN content_key TEXT",
        "CREATE INDEX idx_trajectories_content_key ON trajectories(content_key)",
    )
    backfill_content_keys(db)
    record_earlier_imports(db)


@MIGRATIONS()
def m012_file_modes(db: Database) -> None:
    """A skill version's file modes: relative path -> permission bits of its executable files (a
    script's exec bit kept from import to export). Earlier versions have none."""
    _run(db, "ALTER TABLE skill_versions ADD COLUMN modes TEXT NOT NULL DEFAULT '{}'")


@MIGRATIONS()
def m013_arm_skill_text(db: Database) -> None:
    """The exact skill text each arm of an evaluation run gives the model, and its hash; each result
    keeps the hash of the skill text its prompt carried, so a score always belongs to the whole
    skill under test. Earlier runs have none (their report checks whether the skill was cut)."""
    _run(
        db,
        "ALTER TABLE eval_arms ADD COLUMN skill_text TEXT",
        "ALTER TABLE eval_arms ADD COLUMN skill_hash TEXT",
        "ALTER TABLE eval_results ADD COLUMN skill_hash TEXT",
    )


@MIGRATIONS()
def m014_line_links(db: Database) -> None:
    """What a reviewer's save did to the lines it changed, per file of the saved version: `links`
    (line -> the line of the parent or base it rewords or restores, see `trace2skill.rewords`) and
    `deleted` (the parent's lines it removed, by rejecting a hunk or by hand), and who saved it."""
    _run(
        db,
        """CREATE TABLE line_links (
            version_id TEXT NOT NULL REFERENCES skill_versions(id) ON DELETE CASCADE,
            file TEXT NOT NULL,
            actor TEXT NOT NULL DEFAULT 'user',
            links TEXT NOT NULL DEFAULT '{}',
            deleted TEXT NOT NULL DEFAULT '[]',
            created TEXT NOT NULL,
            PRIMARY KEY (version_id, file)
        )""",
    )


@MIGRATIONS()
def m015_search(db: Database) -> None:
    """Trajectory search leaves out shared text: the steps listed in `search_shared` (system prompts,
    and step text most trajectories carry word for word, see `trace2skill.store.search`). The list is
    recomputed on the first search after trajectories came, went or changed their text: triggers
    count those changes in `search_state.generation`, and `shared_generation` is the count the list
    was made for (searches' rankings are cached per generation too)."""
    _run(
        db,
        """CREATE TABLE search_state (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            generation INTEGER NOT NULL DEFAULT 1,
            shared_generation INTEGER NOT NULL DEFAULT 0
        )""",
        "INSERT INTO search_state (id) VALUES (1)",
        "CREATE TABLE search_shared (step_rowid INTEGER PRIMARY KEY)",
        """CREATE TRIGGER search_trajectories_ai AFTER INSERT ON trajectories BEGIN
            UPDATE search_state SET generation = generation + 1;
        END""",
        """CREATE TRIGGER search_trajectories_ad AFTER DELETE ON trajectories BEGIN
            UPDATE search_state SET generation = generation + 1;
        END""",
        """CREATE TRIGGER search_trajectories_au AFTER UPDATE OF task, final_output ON trajectories BEGIN
            UPDATE search_state SET generation = generation + 1;
        END""",
        """CREATE TRIGGER search_steps_au AFTER UPDATE OF role, text, reasoning, tool_calls, tool_results ON steps
        BEGIN
            UPDATE search_state SET generation = generation + 1;
        END""",
    )


@MIGRATIONS()
def m016_batches(db: Database) -> None:
    """Batch inference: each batch a run submitted (to an endpoint's batch API) or wrote (to a file
    for an engine such as `vllm run-batch`), and each request in it by its custom id (a hash of the
    request body), with the answer once one came back. A request is sent once: a resumed run finds
    its request pending in a batch, or answered, before it writes a new one."""
    _run(
        db,
        """CREATE TABLE batches (
            id TEXT PRIMARY KEY,
            run_id TEXT,
            mode TEXT NOT NULL,
            remote_id TEXT,
            path TEXT,
            status TEXT NOT NULL,
            requests INTEGER NOT NULL DEFAULT 0,
            answered INTEGER NOT NULL DEFAULT 0,
            failed INTEGER NOT NULL DEFAULT 0,
            error TEXT,
            created TEXT NOT NULL,
            updated TEXT,
            finished TEXT
        )""",
        "CREATE INDEX batches_run ON batches (run_id, created)",
        """CREATE TABLE batch_requests (
            custom_id TEXT NOT NULL,
            batch_id TEXT NOT NULL REFERENCES batches(id) ON DELETE CASCADE,
            status TEXT NOT NULL DEFAULT 'pending',
            response TEXT,
            error TEXT,
            error_status INTEGER,
            finished TEXT,
            PRIMARY KEY (custom_id, batch_id)
        )""",
        "CREATE INDEX batch_requests_batch ON batch_requests (batch_id, status)",
    )


@MIGRATIONS()
def m017_large_workspace_indexes(db: Database) -> None:
    """Indexes for a workspace of 100,000 trajectories and 500,000 lessons: the approved lessons of
    a consolidation and the Lessons screen's counts by status and kind (read from the index alone),
    the newest rejected lessons (the reviewers' ledger), lessons with quality flags (a partial index:
    few are), and lessons by the outcome of their trajectory (trajectories read by outcome from the
    index alone). The first and the last replace the index that was their first column."""
    _run(
        db,
        "DROP INDEX IF EXISTS idx_lessons_status",
        "CREATE INDEX idx_lessons_status_kind ON lessons(status, kind, trajectory_id, id)",
        "CREATE INDEX idx_lessons_status_updated ON lessons(status, updated)",
        "CREATE INDEX idx_lessons_flagged ON lessons(status) WHERE flags != '[]'",
        "DROP INDEX IF EXISTS idx_trajectories_outcome",
        "CREATE INDEX idx_trajectories_outcome_id ON trajectories(outcome, id)",
    )


@MIGRATIONS()
def m018_team_review(db: Database) -> None:
    """Team review: comment threads on lessons, hunks and proposals (a thread is a first comment and
    its replies; it stays open until someone resolves it), and each reviewer's queue of lessons."""
    _run(
        db,
        """CREATE TABLE comments (
            id INTEGER PRIMARY KEY,
            subject_type TEXT NOT NULL CHECK (subject_type IN ('lesson', 'hunk', 'proposal')),
            subject_id TEXT NOT NULL,
            parent_id INTEGER REFERENCES comments(id) ON DELETE CASCADE,
            author TEXT NOT NULL,
            text TEXT NOT NULL,
            resolved INTEGER NOT NULL DEFAULT 0,
            resolved_by TEXT,
            resolved_at TEXT,
            created TEXT NOT NULL
        )""",
        "CREATE INDEX idx_comments_subject ON comments(subject_type, subject_id, parent_id, resolved)",
        """CREATE TABLE lesson_assignments (
            lesson_id TEXT NOT NULL REFERENCES lessons(id) ON DELETE CASCADE,
            reviewer TEXT NOT NULL,
            assigned_by TEXT NOT NULL,
            created TEXT NOT NULL,
            PRIMARY KEY (lesson_id, reviewer)
        )""",
        "CREATE INDEX idx_lesson_assignments_reviewer ON lesson_assignments(reviewer)",
    )


@MIGRATIONS()
def m019_sessions(db: Database) -> None:
    """Long sessions split into single-task units (see `trace2skill.sessions`): each unit is a
    trajectory of its own, linked here to the session it was cut from, with its part number, the
    number of parts and the session's steps it holds. A session with units is "split"."""
    _run(
        db,
        """CREATE TABLE session_units (
            unit_id TEXT PRIMARY KEY REFERENCES trajectories(id) ON DELETE CASCADE,
            session_id TEXT NOT NULL REFERENCES trajectories(id) ON DELETE CASCADE,
            part INTEGER NOT NULL,
            parts INTEGER NOT NULL,
            first_step INTEGER NOT NULL,
            last_step INTEGER NOT NULL
        )""",
        "CREATE INDEX idx_session_units_session ON session_units(session_id, part)",
    )


@MIGRATIONS()
def m020_bulk_trajectory_index(db: Database) -> None:
    """New trajectories are indexed for search in bulk, once per stored batch (`store_batch`: an
    INSERT ... SELECT into `trajectories_fts` and one count in `search_state`), as steps already are,
    instead of by a trigger per row; deletes and updates are still kept in step by triggers."""
    _run(
        db,
        'DROP TRIGGER IF EXISTS "trajectories_ai"',
        "DROP TRIGGER IF EXISTS search_trajectories_ai",
    )


@MIGRATIONS()
def m021_review_drafts(db: Database) -> None:
    """A reviewer's unsaved work on the Review & diff screen (hunk decisions, hand edits), per pair
    of versions compared, kept until they save: a reload or another browser brings it back."""
    _run(
        db,
        """CREATE TABLE review_drafts (
            old_id TEXT NOT NULL,
            new_id TEXT NOT NULL,
            reviewer TEXT NOT NULL,
            item TEXT NOT NULL,
            value TEXT NOT NULL,
            updated TEXT NOT NULL,
            PRIMARY KEY (old_id, new_id, reviewer, item)
        )""",
    )
