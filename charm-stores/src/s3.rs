//! `s3://bucket/prefix` — any S3-compatible object store (feature
//! `store-s3`), through the `object_store` crate.

use charm_core::{valid_key, Error, ObjStore, PluginUrl, Result, StoredVersion};
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::path::Path as S3Path;
use object_store::{
    GetOptions, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, RetryConfig,
    UpdateVersion,
};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// The prefix of a store whose URL names none.
const DEFAULT_PREFIX: &str = "charm";

/// Values and the index as objects of an S3 bucket, under a prefix.
///
/// `s3://BUCKET/PREFIX?OPTION=VALUE&...` (`s3://BUCKET` is
/// `s3://BUCKET/charm`: `clear` deletes only what is under the prefix)
/// is configured from the standard
/// `AWS_*` environment (`AWS_ENDPOINT`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_ALLOW_HTTP`…), and
/// options in the URL override it: any configuration key of
/// `object_store`'s `AmazonS3ConfigKey` without its `aws_` prefix, such as
/// `endpoint`, `region` or `allow_http`.
///
/// It has compare-and-swap (conditional writes on the ETag: `If-Match`,
/// `If-None-Match: *`), so processes on any number of machines commit the
/// index without a lock. `delete` cannot tell whether a key was there and
/// says it was. Requests are retried 3 times within 15 s, so a store that
/// is down costs each call at most that long, and the call is computed.
///
/// The blocking methods run the client on a small runtime the store owns,
/// so they can be called from inside an async runtime too.
///
/// ```no_run
/// // With AWS_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY set:
/// # use charm_stores as _;
/// let store = charm_core::open_store("s3://my-bucket/team-cache?region=eu-west-1").unwrap();
/// store.put("obj/ab/cd", b"value").unwrap();
/// ```
#[derive(Debug)]
pub struct S3ObjStore {
    client: Arc<dyn ObjectStore>,
    /// The objects' common prefix (no leading or trailing `/`, not empty).
    prefix: String,
    url: String,
    runtime: Option<tokio::runtime::Runtime>,
}

impl S3ObjStore {
    /// Opens the store an `s3://` URL names.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a URL without a bucket, an unknown option, or
    /// a configuration `object_store` refuses.
    pub fn open(url: &PluginUrl) -> Result<Self> {
        let config = |e: &dyn std::fmt::Display| Error::Config(format!("s3:{}: {e}", url.body()));
        let path = url
            .body()
            .strip_prefix("//")
            .ok_or_else(|| config(&"write s3://BUCKET/PREFIX (the bucket after two slashes)"))?;
        let (bucket, prefix) = path.split_once('/').unwrap_or((path, ""));
        // The bucket's root would make `clear` delete everything in it.
        let prefix = match prefix.trim_end_matches('/') {
            "" => DEFAULT_PREFIX,
            given => given,
        };
        if bucket.is_empty() || !valid_key(prefix) {
            return Err(config(
                &"the bucket is missing, or the prefix is not /-separated letters, digits, . _ -",
            ));
        }
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_retry(RetryConfig {
                max_retries: 3,
                retry_timeout: Duration::from_secs(15),
                ..RetryConfig::default()
            });
        for (key, value) in url.options() {
            let parsed: AmazonS3ConfigKey = format!("aws_{key}").parse().map_err(|_| {
                config(&format!(
                    "{key:?} is not an S3 option (options are object_store's AmazonS3ConfigKey \
                     names, such as endpoint, region, allow_http)"
                ))
            })?;
            builder = builder.with_config(parsed, value);
        }
        let client = builder.build().map_err(|e| config(&e))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("charm-s3")
            .enable_all()
            .build()
            .map_err(|e| Error::io("starting the S3 client's runtime", e))?;
        Ok(S3ObjStore {
            client: Arc::new(client),
            prefix: prefix.to_owned(),
            url: format!("s3://{bucket}/{prefix}"),
            runtime: Some(runtime),
        })
    }

    /// Runs a request on the store's runtime and waits for it (from any
    /// thread, inside an async runtime or not).
    fn run<T: Send + 'static>(
        &self,
        request: impl FnOnce(Arc<dyn ObjectStore>) -> BoxedRequest<T>,
    ) -> Result<T> {
        let runtime = self
            .runtime
            .as_ref()
            .ok_or_else(|| Error::plugin("s3", "the store's runtime is shut down"))?;
        let future = request(self.client.clone());
        let (done, result) = std::sync::mpsc::sync_channel(1);
        runtime.spawn(async move {
            let _ = done.send(future.await);
        });
        result
            .recv()
            .map_err(|_| Error::plugin("s3", "a request's task ended without an answer"))?
            .map_err(|e| Error::plugin(format!("s3 ({})", self.url), e))
    }

    /// The object's path for a store key.
    fn path(&self, key: &str) -> Result<S3Path> {
        if !valid_key(key) {
            return Err(Error::Config(format!(
                "invalid store key {key:?}: use /-separated segments of letters, digits, . _ -"
            )));
        }
        Ok(S3Path::from(format!("{}/{key}", self.prefix)))
    }

    /// The store key of an object's path, if it is one of this store's.
    fn key_of(&self, path: &S3Path) -> Option<String> {
        let key = path
            .as_ref()
            .strip_prefix(&self.prefix)?
            .strip_prefix('/')?;
        valid_key(key).then(|| key.to_owned())
    }

    /// Every object under the folder that holds keys starting with `prefix`.
    fn listing(&self, prefix: &str) -> S3Path {
        match prefix.rsplit_once('/') {
            Some((folder, _)) => S3Path::from(format!("{}/{folder}", self.prefix)),
            None => S3Path::from(self.prefix.as_str()),
        }
    }
}

/// A request to the client, ready to run on the store's runtime.
type BoxedRequest<T> =
    std::pin::Pin<Box<dyn Future<Output = object_store::Result<T>> + Send + 'static>>;

/// Whether an error says the object is absent.
fn absent<T>(result: object_store::Result<T>) -> object_store::Result<Option<T>> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

impl ObjStore for S3ObjStore {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let path = self.path(key)?;
        self.run(move |c| {
            Box::pin(async move {
                match absent(c.get(&path).await)? {
                    Some(got) => Ok(Some(got.bytes().await?.to_vec())),
                    None => Ok(None),
                }
            })
        })
    }

    fn put(&self, key: &str, value: &[u8]) -> Result<()> {
        let path = self.path(key)?;
        let payload = PutPayload::from(value.to_vec());
        self.run(move |c| Box::pin(async move { c.put(&path, payload).await.map(|_| ()) }))
    }

    fn delete(&self, key: &str) -> Result<bool> {
        let path = self.path(key)?;
        self.run(move |c| {
            Box::pin(async move { absent(c.delete(&path).await).map(|d| d.is_some()) })
        })
    }

    fn contains(&self, key: &str) -> Result<bool> {
        let path = self.path(key)?;
        self.run(move |c| Box::pin(async move { absent(c.head(&path).await).map(|m| m.is_some()) }))
    }

    fn keys(&self, prefix: &str) -> Result<Vec<String>> {
        let listing = self.listing(prefix);
        let paths = self.run(move |c| {
            Box::pin(async move {
                let found: Vec<_> = c.list(Some(&listing)).try_collect().await?;
                Ok(found.into_iter().map(|m| m.location).collect::<Vec<_>>())
            })
        })?;
        Ok(paths
            .iter()
            .filter_map(|p| self.key_of(p))
            .filter(|k| k.starts_with(prefix))
            .collect())
    }

    fn clear(&self) -> Result<()> {
        let keys = self.keys("")?;
        let paths: Vec<S3Path> = keys.iter().map(|k| self.path(k)).collect::<Result<_>>()?;
        self.run(move |c| {
            Box::pin(async move {
                let stream = futures_util::stream::iter(paths.into_iter().map(Ok)).boxed();
                c.delete_stream(stream)
                    .try_collect::<Vec<_>>()
                    .await
                    .map(|_| ())
            })
        })
    }

    fn has_compare_and_swap(&self) -> bool {
        true
    }

    fn get_versioned(&self, key: &str) -> Result<Option<(Vec<u8>, StoredVersion)>> {
        let path = self.path(key)?;
        let got = self.run(move |c| {
            Box::pin(async move {
                match absent(c.get_opts(&path, GetOptions::default()).await)? {
                    Some(got) => {
                        let tag = got.meta.e_tag.clone();
                        Ok(Some((got.bytes().await?.to_vec(), tag)))
                    }
                    None => Ok(None),
                }
            })
        })?;
        match got {
            None => Ok(None),
            Some((bytes, Some(tag))) => Ok(Some((bytes, StoredVersion::new(tag)))),
            Some((_, None)) => Err(Error::plugin(
                format!("s3 ({})", self.url),
                format!("the server gave {key} no ETag, which compare-and-swap needs"),
            )),
        }
    }

    fn put_if(&self, key: &str, value: &[u8], expected: Option<&StoredVersion>) -> Result<bool> {
        let path = self.path(key)?;
        let payload = PutPayload::from(value.to_vec());
        let mode = match expected {
            None => PutMode::Create,
            Some(v) => PutMode::Update(UpdateVersion {
                e_tag: Some(v.as_str().to_owned()),
                version: None,
            }),
        };
        self.run(move |c| {
            Box::pin(async move {
                match c.put_opts(&path, payload, PutOptions::from(mode)).await {
                    Ok(_) => Ok(true),
                    Err(object_store::Error::AlreadyExists { .. })
                    | Err(object_store::Error::Precondition { .. }) => Ok(false),
                    Err(e) => Err(e),
                }
            })
        })
    }

    fn describe(&self) -> String {
        self.url.clone()
    }
}

impl Drop for S3ObjStore {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which panics inside an async context.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

charm_core::register_plugin!(
    ObjStore,
    "s3",
    "s3://BUCKET/PREFIX: an S3-compatible bucket (AWS_* environment; compare-and-swap)",
    |url: &PluginUrl| Ok(Box::new(S3ObjStore::open(url)?))
);

#[cfg(test)]
mod tests {
    use super::*;

    /// A store of its own under the test bucket, if the S3 server runs.
    fn test_store(name: &str) -> Option<Box<dyn ObjStore>> {
        charm_core::testing::open_service_store("CHARM_TEST_S3", name)
    }

    #[test]
    fn meets_the_store_contract() {
        if let Some(store) = test_store("conformance") {
            charm_core::testing::obj_store(&*store);
        }
    }

    #[test]
    fn works_when_called_from_inside_an_async_runtime() {
        let Some(store) = test_store("in-runtime") else {
            return;
        };
        let outer = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        outer.block_on(async {
            store.put("k", b"v").expect("put");
            assert_eq!(store.get("k").expect("get").as_deref(), Some(&b"v"[..]));
            drop(store); // dropping its runtime here must not panic
        });
    }

    #[test]
    fn urls_without_a_bucket_or_with_unknown_options_are_refused() {
        for (url, says) in [
            ("s3:bucket", "two slashes"),
            ("s3:///prefix", "bucket is missing"),
            ("s3://b/a//b", "prefix"),
            ("s3://b/p?colour=red", "not an S3 option"),
            ("s3://b/../p", "prefix"),
        ] {
            let err = charm_core::open_store(url).expect_err(url).to_string();
            assert!(err.contains(says), "{url}: {err}");
        }
        let root = charm_core::open_store("s3://bucket").unwrap();
        assert_eq!(
            root.describe(),
            "s3://bucket/charm",
            "never the bucket's root"
        );
    }
}
