//! `charm plugins`: what is registered, by kind.

use crate::output::{print, table};
use crate::CliResult;

pub(crate) fn plugins() -> CliResult<()> {
    let mut rows = vec![vec![
        "kind".to_owned(),
        "name".to_owned(),
        "description".to_owned(),
    ]];
    rows.extend(charm::plugins().into_iter().map(|p| {
        vec![
            p.kind.to_string(),
            p.name.to_owned(),
            p.description.to_owned(),
        ]
    }));
    print(&table(&rows, 3));
    Ok(())
}
