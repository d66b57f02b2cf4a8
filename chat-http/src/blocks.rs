//! `/api/blocks`: users the caller blocks (no direct message passes
//! between them, either way).

use hyper::StatusCode;

use crate::ChatHttp;
use crate::api::Handled;
use crate::auth::Authenticated;
use crate::response::{empty, json};
use crate::wire::{BlockBody, BlockDto, BlocksBody};

impl ChatHttp {
    /// `GET /api/blocks`: whom the caller blocks.
    pub(crate) async fn blocks(&self, auth: Authenticated) -> Handled {
        let blocks = self.chat().blocks(&auth.session).await?;
        let body = BlocksBody {
            blocks: blocks.iter().map(BlockDto::from).collect(),
        };
        Ok(json(StatusCode::OK, &body))
    }

    /// `PUT /api/blocks/{username}`: blocks them.
    pub(crate) async fn block(&self, auth: Authenticated, username: &str) -> Handled {
        let block = self.chat().block(&auth.session, username).await?;
        let body = BlockBody {
            block: BlockDto::from(&block),
        };
        Ok(json(StatusCode::OK, &body))
    }

    /// `DELETE /api/blocks/{username}`: unblocks them.
    pub(crate) async fn unblock(&self, auth: Authenticated, username: &str) -> Handled {
        self.chat().unblock(&auth.session, username).await?;
        Ok(empty(StatusCode::NO_CONTENT))
    }
}
