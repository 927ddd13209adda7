// The PATH a container gets when neither its image nor its config sets one (docker's and runc's).
export const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
