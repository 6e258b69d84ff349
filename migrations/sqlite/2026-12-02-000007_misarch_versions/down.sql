DROP TABLE misarch_versions;
