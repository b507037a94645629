//! Defaults that hold on every side: the CLI's when a `cequence_*` key is unset, the
//! template's parameter `Default`s, and the forwarder's when a variable is absent (a stack
//! made by an older version). The template test compares the template's defaults and ranges
//! with these.

use std::ops::RangeInclusive;

/// The vendor guide's content types, verbatim (the guide lost the `*` characters to
/// formatting; `docs/contract.md` has the story).
pub const SUPPORTED_CONTENT_TYPES_REGEX: &str = r"^[ ]*application/xml[ ]*;?.*$|^[ ]*application/soap\+xml[ ]*;?.*$|^[ ]*text/xml[ ]*;?.*$|^[ ]*application/soap[ ]*;?.*$|^[ ]*application/json[ ]*;?.*$|^[ ]*application/x-www-form-urlencoded[ ]*;?.*$|^[ ]*text/html[ ]*;?.*$";

/// The vendor guide's static extensions, verbatim.
pub const UNSUPPORTED_STATIC_EXTENSIONS_REGEX: &str = r"(?i)\.(css|swf|bmp|bin|csv|oga|jsonld|eot|opus|mpkg|xul|tif|midi|ico|ics|html|jar|3g2|ogv|otf|zip|cda|ogx|rar|7z|tar|png|webp|webm|woff|pptx|mpeg|doc|odp|weba|odt|ods|aac|tiff|gif|vsd|js|mid|arc|avi|sh|epub|bz|jpeg|woff2|bz2|3gp|azw|htm|jpg|xlsx|rtf|svg|ttf|wav|docx|xhtml|mp4|mp3|txt|git|gz|pdf|ppt|abw|mjs|csh|php|xls|ts)$";

/// Both API kinds are captured unless turned off.
pub const REST_API_ENABLED: bool = true;
pub const HTTP_API_ENABLED: bool = true;
/// The vendor guide captures named stages only; `$default` is opt-in.
pub const INCLUDE_HTTP_DEFAULT_STAGE: bool = false;

/// Kinesis shards of the push stream.
pub const KINESIS_SHARD_COUNT: u32 = 1;
pub const KINESIS_SHARD_COUNT_RANGE: RangeInclusive<u32> = 1..=64;
/// The forwarder's memory (template parameter LambdaMemorySize). Lambda gives CPU in
/// proportion (1 vCPU at 1,769 MB); the default is the smallest size at which one tick carries
/// the vendor's published minute (223,500 requests) within its deadline at 25 pages/s, with
/// headroom: 15 s of the 55 left and at most two thirds of the CPU the size buys, for a slower
/// CPU than the benchmark's (docs/benchmark.md, "Memory"). The range is Lambda's own.
pub const LAMBDA_MEMORY_MB: u32 = 1024;
pub const LAMBDA_MEMORY_MB_RANGE: RangeInclusive<u32> = 128..=10240;
/// Reserved concurrency, when set (unset by default: accounts whose quota is 10 cannot
/// reserve any).
pub const RESERVED_CONCURRENCY_RANGE: RangeInclusive<u32> = 1..=9999;
/// Days undelivered batches are kept in the spool bucket.
pub const SPOOL_RETENTION_DAYS: u32 = 7;
pub const SPOOL_RETENTION_DAYS_RANGE: RangeInclusive<u32> = 1..=365;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_regexes_compile_with_the_forwarders_engine() {
        regex_lite::Regex::new(SUPPORTED_CONTENT_TYPES_REGEX).unwrap();
        let statics = regex_lite::Regex::new(UNSUPPORTED_STATIC_EXTENSIONS_REGEX).unwrap();
        assert!(statics.is_match("/assets/site.CSS"));
        assert!(!statics.is_match("/pets/1"));
    }
}
