package main

import (
	"github.com/spf13/cobra"
)

func (a *app) completionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish",
		Short: "Print the shell completion script",
		Long: `Print the completion script for bash, zsh or fish on standard output.
Load it in the current shell, or install it where the shell looks for
completions.`,
		Example: `  source <(radiusctl completion bash)
  radiusctl completion bash > /etc/bash_completion.d/radiusctl
  radiusctl completion zsh > "${fpath[1]}/_radiusctl"
  radiusctl completion fish > ~/.config/fish/completions/radiusctl.fish`,
		ValidArgs: []string{"bash", "zsh", "fish"},
		Args:      cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs),
		RunE: func(c *cobra.Command, args []string) error {
			root := c.Root()
			var err error
			switch args[0] {
			case "bash":
				err = root.GenBashCompletionV2(a.stdout, true)
			case "zsh":
				err = root.GenZshCompletion(a.stdout)
			default:
				err = root.GenFishCompletion(a.stdout, true)
			}
			if err != nil {
				// A script that could not be written is a failure, not a
				// usage error.
				return commandError{err}
			}
			return nil
		},
	}
}
