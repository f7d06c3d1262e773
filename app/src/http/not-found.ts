// The 404 the conversation and message routes both answer for a
// conversation the user does not have, in one wording.
import { HttpError } from "./errors.js";

export function conversationNotFound(): HttpError {
  return new HttpError(404, "not_found", "No such conversation.");
}
