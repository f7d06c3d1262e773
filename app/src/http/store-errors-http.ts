// A chat store that cannot take a request, as clients see it: 503 with a
// Retry-After, never a 500. A full store needs an operator, so clients are
// told to come back later rather than in a moment.
import { StoreError } from "../store/store-errors.js";
import { HttpError } from "./errors.js";

export function storeHttpError(err: StoreError): HttpError {
  return err.reason === "full"
    ? new HttpError(
        503,
        "store_full",
        "The chat store is full; nothing was stored or sent to the model. Retry later.",
        {
          "retry-after": "60",
        },
      )
    : new HttpError(503, "store_unavailable", "The chat store is unavailable; nothing was lost. Retry shortly.", {
        "retry-after": "2",
      });
}

export { StoreError };
