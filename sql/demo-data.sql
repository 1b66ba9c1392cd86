-- A realistic, reproducible sample: :users users and :transactions transactions spread over the
-- :days days before :until, with the names that break naive CSV writers (accents, commas, quotes, line
-- breaks, a leading "=", emoji) and amounts that break floats (negative, cents, huge).
-- psql-style variables are replaced by the loader before it runs this file.
SELECT setseed(0.42);

INSERT INTO usuarios (id, nome, email)
SELECT g,
       CASE
         WHEN g % 97 = 0 THEN (ARRAY[
           'Silva, João', 'Maria "Mará" Souza', E'Ana\nQuebra de Linha', '=HYPERLINK("http://exemplo.invalid","clique")',
           '+55 11 99999-0000', '-Menos Um', '@menção', E'\tTabulação', 'Zoë Ñuñez 🙂', ' Espaço nas pontas '
         ])[1 + (g / 97) % 10]
         ELSE (ARRAY['José', 'Ana', 'João', 'Maria', 'Antônio', 'Francisca', 'Luís', 'Conceição', 'Çelik', 'Zoë'])[1 + g % 10]
              || ' ' ||
              (ARRAY['da Silva', 'Gonçalves', 'Araújo', 'Câmara', 'Peçanha', 'Müller', 'D''Ávila', 'Nóbrega', 'Esteves', 'Lúcio'])[1 + (g / 10) % 10]
       END,
       'usuario' || g || '@exemplo.invalid'
FROM generate_series(1, :users) AS g
ON CONFLICT (id) DO NOTHING;

INSERT INTO transacoes (id, usuario_id, valor, status, criado_em)
SELECT 1000000000000 + g,
       1 + (g::bigint * 7919) % :users,
       CASE
         WHEN g % 1000 = 0 THEN 123456789012.34
         WHEN g % 50 = 0 THEN -round((random() * 500)::numeric, 2)
         ELSE round((random() * 5000)::numeric, 2)
       END,
       (ARRAY['aprovada', 'aprovada', 'aprovada', 'pendente', 'recusada', 'estornada'])[1 + g % 6],
       :until - (random() * :days * interval '1 day')
FROM generate_series(1, :transactions) AS g
ON CONFLICT (id) DO NOTHING;

ANALYZE usuarios;
ANALYZE transacoes;
