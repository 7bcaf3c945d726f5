//! The hash chain, lent by stream in name order (subjects sort as names do).

use es_core::integrity::{Link, LinkKey, Links};
use es_core::StoreError;

use super::JetStreamStore;

impl JetStreamStore {
    /// Every event stream's name, sorted, with its version (its message count).
    pub(crate) async fn stream_names(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let inner = &self.inner;
        let subjects = inner.api.subjects(&inner.events, &inner.subjects.events()).await?;
        let mut names: Vec<(String, u64)> =
            subjects.into_iter().filter_map(|(s, n)| Some((inner.subjects.stream_of(&s)?, n))).collect();
        names.sort_unstable();
        Ok(names)
    }
}

impl Links for JetStreamStore {
    async fn visit_links<F>(
        &self,
        after: LinkKey<'_>,
        one_stream: bool,
        limit: usize,
        mut visit: F,
    ) -> Result<usize, StoreError>
    where
        F: FnMut(&Link<'_>) + Send,
    {
        let names: Vec<String> = if one_stream {
            vec![after.stream.to_owned()]
        } else {
            self.stream_names()
                .await?
                .into_iter()
                .map(|(n, _)| n)
                .filter(|n| n.as_str() >= after.stream)
                .collect()
        };
        let mut lent = 0;
        for name in names {
            if lent == limit {
                break;
            }
            let from = if name == after.stream { after.version + 1 } else { 1 };
            lent += self
                .visit_decoded(&name, from, limit - lent, |d, payload| {
                    visit(&Link {
                        position: d.position,
                        stream: &d.stream,
                        stream_version: d.version,
                        id: d.id,
                        name: &d.name,
                        schema_version: d.schema_version,
                        payload,
                        metadata: &d.metadata_text,
                        recorded_us: d.recorded_us,
                        hash: d.hash,
                    });
                    Ok(())
                })
                .await?;
        }
        Ok(lent)
    }
}
