#pragma once
// The storage schema, as versioned migrations, laid out like Supabase Storage's so policies
// written for it (`bucket_id = 'avatars' and auth.uid() = owner`) work unchanged. Idempotent
// (IF NOT EXISTS): a restored Supabase dump keeps its rows. A row's blob is named by `version`
// (the blob store's key), never by the user's object name.
#include <utility>

namespace storage {

inline constexpr std::pair<const char*, const char*> kMigrations[] = {
    {"alpaca_storage_0001", R"sql(
CREATE TABLE IF NOT EXISTS storage.buckets (
  id text NOT NULL PRIMARY KEY,
  name text NOT NULL,
  owner uuid,
  created_at timestamptz DEFAULT now(),
  updated_at timestamptz DEFAULT now(),
  public boolean DEFAULT false,
  avif_autodetection boolean DEFAULT false,
  file_size_limit bigint,
  allowed_mime_types text[],
  owner_id text
);
CREATE UNIQUE INDEX IF NOT EXISTS bname ON storage.buckets (name);

CREATE TABLE IF NOT EXISTS storage.objects (
  id uuid NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY,
  bucket_id text REFERENCES storage.buckets(id),
  name text,
  owner uuid,
  created_at timestamptz DEFAULT now(),
  updated_at timestamptz DEFAULT now(),
  last_accessed_at timestamptz DEFAULT now(),
  metadata jsonb,
  path_tokens text[] GENERATED ALWAYS AS (string_to_array(name, '/')) STORED,
  version text,
  owner_id text,
  user_metadata jsonb
);
CREATE UNIQUE INDEX IF NOT EXISTS bucketid_objname ON storage.objects (bucket_id, name);
CREATE INDEX IF NOT EXISTS name_prefix_search ON storage.objects (name text_pattern_ops);
CREATE INDEX IF NOT EXISTS objects_version_idx ON storage.objects (version);

CREATE TABLE IF NOT EXISTS storage.migrations (
  id integer PRIMARY KEY, name varchar(100) UNIQUE NOT NULL, hash varchar(40) NOT NULL,
  executed_at timestamp DEFAULT current_timestamp
);

-- Supabase's helpers for policies.
CREATE OR REPLACE FUNCTION storage.foldername(name text) RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
  SELECT (string_to_array(name, '/'))[1:array_length(string_to_array(name, '/'), 1) - 1]
$$;
CREATE OR REPLACE FUNCTION storage.filename(name text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT (string_to_array(name, '/'))[array_length(string_to_array(name, '/'), 1)]
$$;
CREATE OR REPLACE FUNCTION storage.extension(name text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN storage.filename(name) LIKE '%.%'
              THEN reverse(split_part(reverse(storage.filename(name)), '.', 1)) ELSE '' END
$$;
GRANT EXECUTE ON FUNCTION storage.foldername(text), storage.filename(text), storage.extension(text)
  TO anon, authenticated, service_role;

-- RLS decides, as in Supabase: with no policy only service_role (BYPASSRLS) sees anything.
ALTER TABLE storage.buckets ENABLE ROW LEVEL SECURITY;
ALTER TABLE storage.objects ENABLE ROW LEVEL SECURITY;
GRANT ALL ON storage.buckets, storage.objects TO anon, authenticated, service_role;
)sql"},
    {"alpaca_storage_0002", R"sql(
-- Ours: the key that signs this project's signed URLs (made by the server on first use).
-- Readable by no API role, only by the management role the server uses.
CREATE TABLE IF NOT EXISTS storage.alpaca_keys (
  name text PRIMARY KEY, secret text NOT NULL, created_at timestamptz NOT NULL DEFAULT now()
);
REVOKE ALL ON storage.alpaca_keys FROM PUBLIC, anon, authenticated, service_role;
)sql"},
    {"alpaca_storage_0003", R"sql(
-- Ours: an object of a public bucket, readable by anyone in one statement (downloads from
-- /object/public need no policy, as in Supabase). Runs as the owner of storage.objects.
CREATE OR REPLACE FUNCTION storage.alpaca_public_object(p_bucket text, p_name text) RETURNS json
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
  SELECT json_build_object('version', o.version, 'metadata', o.metadata, 'name', o.name)
  FROM storage.objects o JOIN storage.buckets b ON b.id = o.bucket_id
  WHERE b.public AND o.bucket_id = p_bucket AND o.name = p_name
$$;
REVOKE ALL ON FUNCTION storage.alpaca_public_object(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION storage.alpaca_public_object(text, text)
  TO anon, authenticated, service_role;
-- A bucket's upload limits, for whoever uploads (a caller may write into a bucket it may not
-- list, as in Supabase); NULL for no such bucket.
CREATE OR REPLACE FUNCTION storage.alpaca_bucket_limits(p_bucket text) RETURNS json
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
  SELECT json_build_object('public', coalesce(public, false), 'limit', file_size_limit,
                           'types', coalesce(to_json(allowed_mime_types), '[]'::json))
  FROM storage.buckets WHERE id = p_bucket
$$;
REVOKE ALL ON FUNCTION storage.alpaca_bucket_limits(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION storage.alpaca_bucket_limits(text) TO anon, authenticated, service_role;
)sql"},
};

}  // namespace storage
