-- A tenant's default model card (used when an agent's model names no card; at most one per
-- tenant) and archived cards (hidden from lists and from model resolution).
ALTER TABLE model_cards ADD COLUMN is_default BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE model_cards ADD COLUMN archived_at INTEGER;
CREATE UNIQUE INDEX model_cards_one_default ON model_cards (tenant_id) WHERE is_default;
