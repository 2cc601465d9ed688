//! Listing tokens: filters, the sort orders and keyset pages.

use super::*;
use crate::gateway::issued_at;

#[derive(Debug, Clone, Default)]
pub struct TokenFilter {
    pub kind: Option<TokenKind>,
    pub status: Option<TokenStatus>,
    /// A portal user id or service user id.
    pub created_for: Option<String>,
    /// Case-insensitive text searched for in the token name.
    pub search: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct TokenQuery {
    pub filter: TokenFilter,
    pub sort: TokenSort,
    pub cursor: Option<String>,
    pub limit: i64,
}

fn format_ts(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
}

fn parse_ts(s: &str) -> Result<NaiveDateTime> {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.6f").map_err(|_| StoreError::BadCursor)
}

fn like_pattern(text: &str) -> String {
    let mut p = String::from("%");
    for ch in text.to_lowercase().chars() {
        if matches!(ch, '\\' | '%' | '_') {
            p.push('\\');
        }
        p.push(ch);
    }
    p.push('%');
    p
}

/// The most rows a search reads through SQLite's trigram index; a text that more names contain
/// is searched along the list's order, where matches come soon.
const FEW_NAMED: i64 = 1000;

/// SQLite: the rowids of the tokens, in every project, whose names contain `text` (the trigram
/// index's candidates; the caller's `LIKE` decides), when there are at most [`FEW_NAMED`];
/// `None` when there are more, or the text is shorter than a trigram.
fn few_named(c: &mut DbConn, text: &str) -> Result<Option<Vec<i64>>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        rowid: i64,
    }
    if text.chars().count() < 3 {
        return Ok(None);
    }
    // A phrase of the text's trigrams: the names that contain it.
    let phrase = format!("\"{}\"", text.to_lowercase().replace('"', "\"\""));
    let rows: Vec<Row> =
        diesel::sql_query("SELECT rowid FROM token_name_search WHERE token_name_search MATCH ? LIMIT ?")
            .bind::<diesel::sql_types::Text, _>(phrase)
            .bind::<diesel::sql_types::BigInt, _>(FEW_NAMED + 1)
            .load(c)?;
    Ok((rows.len() as i64 <= FEW_NAMED).then(|| rows.into_iter().map(|r| r.rowid).collect()))
}

impl Store {
    /// One page of the tokens the actor may see.
    pub fn list_tokens(&self, actor: &Actor, query: &TokenQuery) -> Result<Page<Token>> {
        let after = match &query.cursor {
            Some(c) => Some(cursor::decode(c, 2)?),
            None => None,
        };
        let f = &query.filter;
        self.read(|c| {
            let mut q = visible(actor).select(TokenRow::as_select());
            if let Some(kind) = f.kind {
                q = q.filter(tokens::kind.eq(kind.as_str()));
            }
            // A token ends with its subscription or on its own last day, whichever comes first;
            // a revoked one is revoked whatever its dates.
            let subscription = subscription_of(c, &actor.project_id)?;
            let running = Utc::now() < subscription.expires_at;
            let today = Utc::now().date_naive();
            match f.status {
                Some(TokenStatus::Revoked) => q = q.filter(tokens::revoked_at.is_not_null()),
                Some(TokenStatus::Active) if !running => {
                    return Ok(Page {
                        items: Vec::new(),
                        next_cursor: None,
                    })
                }
                Some(TokenStatus::Active) => {
                    q = q
                        .filter(tokens::revoked_at.is_null())
                        .filter(tokens::expires_on.is_null().or(tokens::expires_on.ge(today)));
                    if let Some(out) = capped_out(&subscription, today) {
                        q = q.filter(diesel::dsl::not(out));
                    }
                }
                Some(TokenStatus::Expired) if !running => q = q.filter(tokens::revoked_at.is_null()),
                Some(TokenStatus::Expired) => {
                    q = q.filter(tokens::revoked_at.is_null());
                    q = match capped_out(&subscription, today) {
                        Some(out) => q.filter(tokens::expires_on.lt(today).assume_not_null().or(out)),
                        None => q.filter(tokens::expires_on.lt(today)),
                    };
                }
                None => {}
            }
            if let Some(who) = &f.created_for {
                q = q.filter(tokens::user_id.eq(who).or(tokens::service_user_id.eq(who)));
            }
            if let Some(text) = f.search.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
                q = q.filter(tokens::name_key.like(like_pattern(text)).escape('\\'));
                // A common word is best found along the list's order, a rare one through the
                // trigram index.
                q = match c {
                    // Planned for the text at hand, not once for every text (the SQL literal
                    // makes the statement one that is not kept prepared).
                    DbConn::Pg(_) => q.filter(diesel::dsl::sql::<diesel::sql_types::Bool>("1 = 1")),
                    // SQLite's planner cannot tell the two apart: the index is asked first.
                    DbConn::Sqlite(_) => match few_named(c, text)? {
                        Some(rows) => {
                            let rows: Vec<String> = rows.iter().map(i64::to_string).collect();
                            q.filter(diesel::dsl::sql::<diesel::sql_types::Bool>(&format!(
                                "tokens.rowid IN ({})",
                                rows.join(",")
                            )))
                        }
                        None => q,
                    },
                };
            }
            q = match query.sort {
                TokenSort::NewestFirst => q.order((tokens::created_at.desc(), tokens::id.desc())),
                TokenSort::OldestFirst => q.order((tokens::created_at.asc(), tokens::id.asc())),
                TokenSort::NameAscending => q.order((tokens::name_key.asc(), tokens::id.asc())),
                TokenSort::NameDescending => q.order((tokens::name_key.desc(), tokens::id.desc())),
            };
            if let Some(parts) = &after {
                let (key, id) = (&parts[0], parts[1].clone());
                q = match query.sort {
                    TokenSort::NewestFirst => {
                        let t = parse_ts(key)?;
                        q.filter(
                            tokens::created_at
                                .lt(t)
                                .or(tokens::created_at.eq(t).and(tokens::id.lt(id))),
                        )
                    }
                    TokenSort::OldestFirst => {
                        let t = parse_ts(key)?;
                        q.filter(
                            tokens::created_at
                                .gt(t)
                                .or(tokens::created_at.eq(t).and(tokens::id.gt(id))),
                        )
                    }
                    TokenSort::NameAscending => q.filter(
                        tokens::name_key
                            .gt(key.clone())
                            .or(tokens::name_key.eq(key.clone()).and(tokens::id.gt(id))),
                    ),
                    TokenSort::NameDescending => q.filter(
                        tokens::name_key
                            .lt(key.clone())
                            .or(tokens::name_key.eq(key.clone()).and(tokens::id.lt(id))),
                    ),
                };
            }
            let mut rows: Vec<TokenRow> = q.limit(query.limit + 1).load(c)?;
            let more = rows.len() as i64 > query.limit;
            rows.truncate(query.limit as usize);
            let next_cursor = match (more, rows.last()) {
                (true, Some(last)) => Some(match query.sort {
                    TokenSort::NewestFirst | TokenSort::OldestFirst => {
                        cursor::encode(&[&format_ts(last.created_at), &last.id])
                    }
                    TokenSort::NameAscending | TokenSort::NameDescending => cursor::encode(&[&last.name_key, &last.id]),
                }),
                _ => None,
            };
            Ok(Page {
                items: hydrate(c, rows, &subscription)?,
                next_cursor,
            })
        })
    }
}

/// The tokens whose secret was issued longer ago than the subscription's cap for their kind
/// allows today: ended, whatever their own last day says ([`capped_day`]). None when the
/// subscription caps neither kind.
fn capped_out(
    subscription: &Subscription,
    today: NaiveDate,
) -> Option<Box<dyn BoxableExpression<tokens::table, Db, SqlType = diesel::sql_types::Bool>>> {
    let mut out: Option<Box<dyn BoxableExpression<tokens::table, Db, SqlType = diesel::sql_types::Bool>>> = None;
    for kind in [TokenKind::User, TokenKind::Service] {
        let Some(days) = subscription.max_days(kind) else {
            continue;
        };
        // Its last day is the day issued plus the cap: past when issued before this morning
        // less the cap.
        let cutoff = (today - chrono::Days::new(u64::from(days))).and_time(chrono::NaiveTime::MIN);
        let this = Box::new(
            tokens::kind
                .eq(kind.as_str())
                .and(issued_at(tokens::secret_regenerated_at, tokens::created_at).lt(cutoff)),
        );
        out = Some(match out {
            None => this,
            Some(before) => Box::new(before.or(this)),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn search_text_is_escaped_for_like() {
        assert_eq!(super::like_pattern("50%_Off\\"), "%50\\%\\_off\\\\%");
    }
}
