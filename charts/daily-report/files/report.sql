-- The daily report: one line per transaction created in the report's window.
--
-- Parameters (the job writes each in as a typed literal of its own values; see README):
--   :report_date    date         the report's date D (the file is relatorio_D.csv)
--   :window_start   timestamptz  D-1 00:00 in REPORT_TIMEZONE (inclusive)
--   :window_end     timestamptz  D   00:00 in REPORT_TIMEZONE (exclusive)
--   :extracted_at   timestamptz  the instant the extraction started (same for every row)
--
-- Tables (the application's schema; see sql/demo-schema.sql):
--   usuarios(id, nome, ...), transacoes(id, usuario_id, valor, status, criado_em)
-- The half-open window with an index on transacoes(criado_em) reads exactly one day.
SELECT :extracted_at::timestamptz AS data_extracao,
       u.nome                    AS nome_usuario,
       t.id                      AS id_transacao,
       t.valor                   AS valor_transacao,
       t.status                  AS status_transacao
FROM transacoes AS t
JOIN usuarios AS u ON u.id = t.usuario_id
WHERE t.criado_em >= :window_start::timestamptz
  AND t.criado_em <  :window_end::timestamptz
ORDER BY t.criado_em, t.id
