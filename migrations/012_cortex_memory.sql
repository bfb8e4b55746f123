-- The Unified Cortex memory (seed migration 017 and the pkg-cortex excerpt; README "Semantic memory"):
-- memories of three tiers with 1024-dimension embeddings, searched by cosine similarity through
-- pgvector's HNSW index, scoped by snapshot. The seed derives its tiers from tasks and graph
-- embeddings; here memories are imported (`pkgctl memory import`), so the tiers are one table with
-- a tier column, and the seed's objects are views and a function over it.
CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE pkg_cortex_memories (
  -- TEXT like the seed's polymorphic ids: a caller's own key (task uuid, graph node id, ...).
  id             text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 200),
  memory_tier    text NOT NULL CHECK (memory_tier IN ('event_working', 'knowledge_base', 'world_memory')),
  memory_label   text NOT NULL CHECK (length(memory_label) BETWEEN 1 AND 200),
  -- sha256 of the remembered text: the text itself stays with its owner, the hash names it.
  content_sha256 text NOT NULL CHECK (content_sha256 ~ '^[0-9a-f]{64}$'),
  embedding      vector(1024) NOT NULL,
  -- NULL: memory of every snapshot's world. A snapshot's own memories go with it (not SET NULL as
  -- in the seed, which here would make them visible to every other snapshot).
  snapshot_id    uuid REFERENCES pkg_snapshots (id) ON DELETE CASCADE,
  created_at     timestamptz NOT NULL DEFAULT now()
);

-- pgvector's defaults, spelled out: with ef_search 200 (below) recall@10 is measured by
-- `npm run bench -- cortex`.
CREATE INDEX pkg_cortex_memories_embedding ON pkg_cortex_memories
  USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64);
CREATE INDEX pkg_cortex_memories_snapshot ON pkg_cortex_memories (snapshot_id);
CREATE INDEX pkg_cortex_memories_created ON pkg_cortex_memories (created_at);

-- The Unified Cortex: every tier, with the seed's column names.
CREATE VIEW v_unified_cortex_memory AS
  SELECT id, memory_tier, memory_label, content_sha256, embedding, snapshot_id, created_at
    FROM pkg_cortex_memories;

-- TIER 1, 2 and 3 of the seed, one view each.
CREATE VIEW v_cortex_event_working AS
  SELECT * FROM v_unified_cortex_memory WHERE memory_tier = 'event_working';
CREATE VIEW v_cortex_knowledge_base AS
  SELECT * FROM v_unified_cortex_memory WHERE memory_tier = 'knowledge_base';
CREATE VIEW v_cortex_world_memory AS
  SELECT * FROM v_unified_cortex_memory WHERE memory_tier = 'world_memory';

-- The seed's search: memories of the snapshot's world (its own and the unscoped ones; every memory
-- when snapshot_id is NULL), optionally of one tier, at least similarity_threshold similar
-- (similarity = 1 - cosine distance), highest first. The HNSW scan yields at most ef_search rows and
-- filters after the scan, so ef_search is raised with the limit; set for this call only.
CREATE FUNCTION unified_cortex_semantic_search(
  query_vector         vector(1024),
  snapshot_id          uuid,
  similarity_threshold double precision DEFAULT 0.8,
  limit_results        integer DEFAULT 10,
  memory_tier_filter   text DEFAULT NULL
) RETURNS TABLE (
  id             text,
  memory_tier    text,
  memory_label   text,
  content_sha256 text,
  -- Not snapshot_id: that is the parameter's name (the seed's), and a function's names are one set.
  memory_snapshot_id uuid,
  similarity     double precision
) LANGUAGE plpgsql STABLE
  SET hnsw.ef_search = 200
AS $$
#variable_conflict use_column
BEGIN
  IF limit_results IS NULL OR limit_results < 1 OR limit_results > 1000 THEN
    RAISE EXCEPTION 'limit_results must be between 1 and 1000, got %', limit_results;
  END IF;
  IF memory_tier_filter IS NOT NULL
     AND memory_tier_filter NOT IN ('event_working', 'knowledge_base', 'world_memory') THEN
    RAISE EXCEPTION 'memory_tier_filter must be event_working, knowledge_base or world_memory, got %',
      memory_tier_filter;
  END IF;
  PERFORM set_config('hnsw.ef_search', greatest(200, least(1000, limit_results * 10))::text, true);
  RETURN QUERY
    SELECT nearest.id, nearest.memory_tier, nearest.memory_label, nearest.content_sha256, nearest.snapshot_id,
           1 - nearest.distance
      FROM (SELECT m.id, m.memory_tier, m.memory_label, m.content_sha256, m.snapshot_id,
                   m.embedding <=> query_vector AS distance
              FROM v_unified_cortex_memory m
             WHERE (unified_cortex_semantic_search.snapshot_id IS NULL OR m.snapshot_id IS NULL
                    OR m.snapshot_id = unified_cortex_semantic_search.snapshot_id)
               AND (memory_tier_filter IS NULL OR m.memory_tier = memory_tier_filter)
             ORDER BY m.embedding <=> query_vector
             LIMIT limit_results) nearest
     WHERE 1 - nearest.distance >= similarity_threshold
     ORDER BY nearest.distance, nearest.id;
END
$$;
