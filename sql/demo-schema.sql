-- The application's tables that the report reads (the demo and the tests create them).
CREATE TABLE IF NOT EXISTS usuarios (
  id    bigint PRIMARY KEY,
  nome  text   NOT NULL,
  email text
);

CREATE TABLE IF NOT EXISTS transacoes (
  id         bigint        PRIMARY KEY,
  usuario_id bigint        NOT NULL REFERENCES usuarios (id),
  valor      numeric(14,2) NOT NULL,
  status     text          NOT NULL,
  criado_em  timestamptz   NOT NULL
);

CREATE INDEX IF NOT EXISTS transacoes_criado_em ON transacoes (criado_em);

-- The role the job should run as in production: read-only, on these tables only.
DO $$
BEGIN
  CREATE ROLE report_reader LOGIN;
EXCEPTION WHEN duplicate_object THEN
  NULL; -- roles are cluster-wide: another database already created it
END
$$;
GRANT SELECT ON usuarios, transacoes TO report_reader;
