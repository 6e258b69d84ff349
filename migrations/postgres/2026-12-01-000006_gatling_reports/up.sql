-- The Gatling report of a MiSArch trial exactly as the Gatling executor uploaded it (its index.html and js/stats.js),
-- so that a user can open Gatling's own report of any past trial. Written with the metrics, in one transaction;
-- deleted with its trial. Same text for both backends.

CREATE TABLE gatling_reports (
    trial_id   TEXT PRIMARY KEY REFERENCES trials (id) ON DELETE CASCADE,
    index_html TEXT NOT NULL,
    stats_js   TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
