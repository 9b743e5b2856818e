"""SLA history: every saved version of a definitions file, its diff, and rollback."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from app import auth, data, editor
from app import figures as fx

user = auth.page_user(__file__)
tz = st.session_state.get("tz", "UTC")
st.title("SLA history")
st.caption("Who changed which SLA file, when and why; roll back to any earlier version.")

files = editor.sla_files(data.config_dir())
if not files:
    st.info(f"No SLA files in {data.config_dir()}/slas/.")
    st.stop()
name = st.selectbox("File", list(files), format_func=lambda path: Path(path).name)
versions = data.versions(name)
if versions.empty:
    st.info("No versions saved yet: saving in the SLA editor records one (and what was on "
            "disk before it).")
    st.stop()

st.dataframe(pd.DataFrame({
    "Version": versions["id"], "Saved": versions["created_us"].map(lambda v: fx.fmt_time(v, tz)),
    "Author": versions["author"], "Message": versions["message"].fillna(""),
}), hide_index=True, width="stretch")

labels = {int(r["id"]): f"#{r['id']} — {fx.fmt_time(r['created_us'], tz)} by {r['author']}"
          for _, r in versions.iterrows()}
chosen = st.selectbox("Version", list(labels), format_func=labels.__getitem__)
row = versions[versions["id"] == chosen].iloc[0]
st.code(row["diff"] or "(no diff: the file as it was before the first edit in Baton)",
        language="diff")
with st.expander("Full text of this version"):
    st.code(row["content"], language="yaml")

if row["content"] == files[name]:
    st.caption("This version is what is on disk now.")
elif st.button(f"Roll back to version {chosen}", disabled=not user.can_edit):
    try:
        saved = editor.rollback(data.store(), files, name, row, user)
    except editor.EditorError as exc:
        st.error(f"Not rolled back: {exc}")
    else:
        data.clear()
        st.success(f"Rolled back: {name} is version {chosen}'s text again, saved as version "
                   f"{saved.version_id}.")
if not user.can_edit:
    st.caption("Only editors may roll back.")
